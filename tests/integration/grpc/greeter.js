// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// A gRPC server and client in one process, over h2c on 127.0.0.1 (insecure
// credentials): spanprobe.test.Greeter/SayHello answers OK, /Fail answers
// NOT_FOUND (5) with a message. Messages are raw bytes (no .proto): the
// test is about the transport, gRPC's framing and its trailers. Prints
// "PORT" on stdout when both calls are done.
'use strict';
const grpc = require('@grpc/grpc-js');

const raw = { serialize: (b) => b, deserialize: (b) => b };
const service = {
	SayHello: {
		path: '/spanprobe.test.Greeter/SayHello', requestStream: false, responseStream: false,
		requestSerialize: raw.serialize, requestDeserialize: raw.deserialize,
		responseSerialize: raw.serialize, responseDeserialize: raw.deserialize,
	},
	Fail: {
		path: '/spanprobe.test.Greeter/Fail', requestStream: false, responseStream: false,
		requestSerialize: raw.serialize, requestDeserialize: raw.deserialize,
		responseSerialize: raw.serialize, responseDeserialize: raw.deserialize,
	},
};

const server = new grpc.Server();
server.addService(service, {
	SayHello: (call, cb) => cb(null, Buffer.concat([Buffer.from('hello '), call.request])),
	Fail: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'no such greeting' }),
});

server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
	if (err)
		throw err;
	const Client = grpc.makeGenericClientConstructor(service, 'Greeter');
	const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
	client.SayHello(Buffer.from('spanprobe'), (err1, reply) => {
		if (err1 || reply.toString() !== 'hello spanprobe') {
			console.error('SayHello failed:', err1 || reply.toString());
			process.exit(1);
		}
		client.Fail(Buffer.from('x'), (err2) => {
			if (!err2 || err2.code !== grpc.status.NOT_FOUND) {
				console.error('Fail did not fail with NOT_FOUND:', err2);
				process.exit(1);
			}
			console.log(String(port));
			client.close();
			server.tryShutdown(() => process.exit(0));
		});
	});
});
