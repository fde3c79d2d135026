//! The network policy against real sockets on loopback.

use std::time::Duration;

use steward_agent::{Error, Network};
use steward_core::Allowlist;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A one-route HTTP server on `ip`: answers every request with `response`, counts requests.
async fn serve(ip: &str, response: String) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (port, rx)
}

fn net(entries: &[&str]) -> Network {
    Network::new(
        Allowlist::parse(entries).expect("allowlist"),
        Duration::from_secs(5),
    )
}

#[tokio::test]
async fn allowed_host_is_reached() {
    let (port, mut seen) = serve("127.0.0.1", ok("hello")).await;
    let http = net(&["loopback"]).http().expect("client");
    let body = http
        .get(&format!("http://127.0.0.1:{port}/x"))
        .expect("allowed")
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "hello");
    assert!(seen.recv().await.expect("request").starts_with("GET /x"));
}

#[tokio::test]
async fn refused_host_is_never_contacted() {
    let (port, mut seen) = serve("127.0.0.1", ok("secret")).await;
    // 127.0.0.1 is loopback but not on this list: the request must fail before any connection.
    let http = net(&["hub.snapshot.org"]).http().expect("client");
    let err = http
        .get(&format!("http://127.0.0.1:{port}/"))
        .expect_err("refused");
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("network.allow"),
        "{msg}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        seen.try_recv().is_err(),
        "the server must not have been contacted"
    );
}

#[tokio::test]
async fn redirects_to_refused_hosts_are_not_followed() {
    // The target listens on 127.0.0.2 (loopback, but not allowed by this list).
    let (target_port, mut target_seen) = serve("127.0.0.2", ok("drained")).await;
    let location = format!("http://127.0.0.2:{target_port}/steal");
    let (port, _seen) = serve(
        "127.0.0.1",
        format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let http = net(&["127.0.0.1"]).http().expect("client");
    let err = http
        .get(&format!("http://127.0.0.1:{port}/"))
        .expect("first hop allowed")
        .send()
        .await
        .expect_err("redirect refused");
    let chain = error_chain(&err);
    assert!(
        chain.contains("127.0.0.2") && chain.contains("network.allow"),
        "{chain}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        target_seen.try_recv().is_err(),
        "the redirect target must not be contacted"
    );
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
