// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//! sp-rustls-client CA_PEM HOST PORT PATH N [DELAY_MS]
//! Opens N TLS connections from this one thread, finishes every handshake
//! first, then writes one GET PATH?conn=I&ms=I*200 on each and reads each
//! response in turn: connections on one thread, interleaved, each asking
//! for its own answer, so that a tie of plaintext to the wrong socket
//! shows. Prints "conn I status BYTES" per response.
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        eprintln!("usage: {} CA_PEM HOST PORT PATH N [DELAY_MS]", a[0]);
        std::process::exit(2);
    }
    let (ca, host, port, path) = (&a[1], &a[2], &a[3], &a[4]);
    let n: usize = a[5].parse().expect("N");
    let delay: u64 = a.get(6).map(|d| d.parse().expect("DELAY_MS")).unwrap_or(0);
    std::thread::sleep(std::time::Duration::from_millis(delay));

    let mut roots = rustls::RootCertStore::empty();
    let mut pem = BufReader::new(std::fs::File::open(ca).expect("CA file"));
    for der in rustls_pemfile::certs(&mut pem).expect("CA PEM") {
        roots.add(&rustls::Certificate(der)).expect("CA cert");
    }
    let cfg = Arc::new(
        rustls::ClientConfig::builder()
            .with_safe_defaults()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let name = rustls::ServerName::try_from(host.as_str()).expect("server name");
    let mut conns = Vec::new();
    for _ in 0..n {
        let conn = rustls::ClientConnection::new(cfg.clone(), name.clone()).expect("conn");
        let sock = TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("PORT")))
            .expect("connect");
        let mut s = Box::new(rustls::StreamOwned::new(conn, sock));
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).expect("handshake");
        }
        conns.push(s);
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let req = format!(
            "GET {}?conn={}&ms={} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            path,
            i,
            i * 200,
            host
        );
        s.write_all(req.as_bytes()).expect("write");
        s.flush().expect("flush");
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let mut body = Vec::new();
        match s.read_to_end(&mut body) {
            Ok(_) => {}
            // a server that closes without close_notify
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => panic!("read: {}", e),
        }
        let text = String::from_utf8_lossy(&body);
        let status = text.split(' ').nth(1).unwrap_or("?").to_string();
        println!("conn {} {} {}", i, status, body.len());
    }
}
