module spanprobe.test/go_tls

go 1.17
