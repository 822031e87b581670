//! Limits before work (`ringfence_server::limits`), tried as an attacker would over raw TCP: a
//! body sent without a token is never read, two `Authorization` headers are refused, a body or
//! headers that never finish arrive too late, idle connections are closed, and the connection
//! cap and the body budget answer 503. Short limits keep the test fast; the defaults are the
//! same code with other numbers.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Server, deposit, parse_response};
use ringfence_core::Role;
use ringfence_server::Limits;

const SHORT: Limits = Limits {
    header_read: Duration::from_secs(1),
    body_read: Duration::from_secs(1),
    body_bytes_in_flight: 64 * 1024 * 1024,
    connections: 1024,
};

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream
}

/// Everything the server sends until it closes the connection, and how long that took.
fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("reading failed: {error} (read so far: {:?})", String::from_utf8_lossy(&raw)),
        }
    }
    (raw, started.elapsed())
}

fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: ringfence\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap()
}

#[test]
fn a_body_sent_without_a_token_is_refused_from_the_headers_and_never_read() {
    let server = Server::start_limited(SHORT, |_| {});
    // 8 MiB - 1 announced, nothing sent: the answer comes from the headers alone.
    let mut stream = connect(server.address);
    stream.write_all(&head("POST", "/v1/movements/batch", &[("Content-Length", "8388607"), ("Idempotency-Key", "k-1")])).unwrap();
    let (raw, took) = until_closed(&mut stream);
    let response = parse_response(&raw).unwrap();
    response.assert_error(401, "unauthenticated");
    assert!(took < Duration::from_secs(1), "answered in {took:?}, without waiting for the body");

    // 256 connections each announcing 8 MiB - 1 and sending 1 MiB of it, with no token: the
    // server's memory does not grow by what they send.
    let before = resident_kib();
    let chunk = vec![b' '; 1024 * 1024];
    let senders: Vec<_> = (0..256)
        .map(|n| {
            let address = server.address;
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                let mut stream = connect(address);
                stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                let key = format!("k-{n}");
                let _ = stream.write_all(&head("POST", "/v1/movements/batch", &[("Content-Length", "8388607"), ("Idempotency-Key", &key)]));
                let _ = stream.write_all(&chunk);
                let (raw, _) = until_closed(&mut stream);
                parse_response(&raw).map(|r| r.status)
            })
        })
        .collect();
    let statuses: Vec<Option<u16>> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    let grown = resident_kib().saturating_sub(before);
    assert!(statuses.iter().all(|s| *s == Some(401)), "{statuses:?}");
    println!("256 unauthenticated 8 MiB bodies: resident memory grew by {grown} KiB");
    // The test process holds the senders' own 256 MiB of chunks at most for a moment; the
    // server held none of what they sent.
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
}

#[test]
fn two_authorization_headers_are_refused() {
    let server = Server::start_limited(SHORT, |_| {});
    let auditor = format!("Bearer {}", server.tokens.of(Role::Auditor));
    let client = format!("Bearer {}", server.tokens.of(Role::Client));
    let response = server.call("GET", "/v1/summary", &[("Authorization", &auditor), ("Authorization", &client)], None);
    response.assert_error(400, "invalid_header");
    let response = server.call("GET", "/v1/summary", &[("Authorization", &auditor)], None);
    assert_eq!(response.status, 200, "{response:?}");
}

#[test]
fn a_body_that_never_finishes_is_answered_408_and_changes_nothing() {
    let server = Server::start_limited(SHORT, |_| {});
    let before = server.journal_head();
    let token = format!("Bearer {}", server.tokens.of(Role::Operator));
    let body = deposit("5").to_string();
    let mut stream = connect(server.address);
    let length = body.len().to_string();
    stream
        .write_all(&head("POST", "/v1/movements", &[("Authorization", &token), ("Idempotency-Key", "slow-1"), ("Content-Length", &length)]))
        .unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    let (raw, took) = until_closed(&mut stream);
    parse_response(&raw).unwrap().assert_error(408, "request_timeout");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "answered after {took:?}");
    assert_eq!(server.journal_head(), before, "nothing was recorded");
}

#[test]
fn headers_that_never_finish_and_idle_connections_are_closed() {
    let server = Server::start_limited(SHORT, |_| {});
    // Half the headers, then nothing.
    let mut stream = connect(server.address);
    stream.write_all(b"GET /v1/summary HTTP/1.1\r\nHost: ringfence\r\n").unwrap();
    let (_, took) = until_closed(&mut stream);
    assert!(took < Duration::from_secs(5), "a half-sent request kept its connection {took:?}");
    // Connected, nothing sent.
    let mut stream = connect(server.address);
    let (_, took) = until_closed(&mut stream);
    assert!(took < Duration::from_secs(5), "a silent connection stayed open {took:?}");
    // A keep-alive connection idle after a complete request.
    let mut stream = connect(server.address);
    stream.write_all(&head("GET", "/healthz", &[])).unwrap();
    let (raw, took) = until_closed(&mut stream);
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&raw));
    assert!(took < Duration::from_secs(5), "an idle keep-alive connection stayed open {took:?}");
}

#[test]
fn connections_over_the_cap_and_bodies_over_the_budget_are_answered_busy() {
    let limits = Limits {
        header_read: Duration::from_secs(10),
        body_read: Duration::from_secs(10),
        body_bytes_in_flight: 64 * 1024,
        connections: 4,
    };
    let server = Server::start_limited(limits, |_| {});
    // One connection holds 40 KiB of the 64 KiB budget, its body still coming.
    let token = format!("Bearer {}", server.tokens.of(Role::Operator));
    let mut holding = connect(server.address);
    holding
        .write_all(&head("POST", "/v1/movements", &[("Authorization", &token), ("Idempotency-Key", "big-1"), ("Content-Length", "40960")]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // A second body of 40 KiB does not fit the budget.
    let mut second = connect(server.address);
    second
        .write_all(&head("POST", "/v1/movements", &[("Authorization", &token), ("Idempotency-Key", "big-2"), ("Content-Length", "40960")]))
        .unwrap();
    let (raw, _) = until_closed(&mut second);
    parse_response(&raw).unwrap().assert_error(503, "busy");
    // Three more connections fill the cap of four; the fifth is answered 503 and closed.
    let _idle: Vec<TcpStream> = (0..3).map(|_| connect(server.address)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = connect(server.address);
    let (raw, took) = until_closed(&mut over);
    parse_response(&raw).unwrap().assert_error(503, "busy");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(holding);
}
