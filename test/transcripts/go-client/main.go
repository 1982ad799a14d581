// A Go crypto/tls client for recording transcripts against keysmith's server
// (test/transcripts/record.ts): connects, sends a line, reads the echo, closes;
// then, unless -once, connects again offering the ticket from the first.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "", "host:port")
	caFile := flag.String("ca", "", "trust anchors (PEM)")
	certFile := flag.String("cert", "", "client certificate chain (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	once := flag.Bool("once", false, "one connection, no resumption")
	flag.Parse()

	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	config := &tls.Config{
		RootCAs:            roots,
		ServerName:         "localhost",
		MinVersion:         tls.VersionTLS13,
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fail(err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	rounds := 2
	if *once {
		rounds = 1
	}
	for i := 0; i < rounds; i++ {
		conn, err := tls.Dial("tcp", *addr, config)
		if err != nil {
			fail(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "hello from go crypto/tls\n")
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			fail(err)
		}
		fmt.Printf("connection %d resumed=%v echo=%q\n", i, conn.ConnectionState().DidResume, line)
		conn.Close()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
