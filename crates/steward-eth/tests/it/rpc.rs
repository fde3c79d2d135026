//! RPC failures are clear errors that name the host, never the URL.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use alloy::primitives::Address;
use steward_eth::{Error, GovernorKind, GovernorReader, Rpc};
use url::Url;

fn reader(url: &str, timeout: Duration) -> GovernorReader {
    let rpc = Rpc::new(Url::parse(url).expect("url"))
        .expect("rpc")
        .with_timeout(timeout);
    GovernorReader::new(rpc, Address::repeat_byte(0x11), GovernorKind::OpenZeppelin)
}

#[tokio::test]
async fn rpc_that_is_down_is_a_clear_error_naming_the_host() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }; // closed again: nothing listens
    let r = reader(
        &format!("http://127.0.0.1:{port}/v3/SECRETKEY"),
        Duration::from_secs(10),
    );
    let err = r.proposals(0, None).await.expect_err("down");
    assert!(matches!(err, Error::Rpc { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("SECRETKEY"), "{msg}");
    assert!(!format!("{err:?}").contains("SECRETKEY"), "{err:?}");
}

#[tokio::test]
async fn rpc_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and hold connections without answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(4).flatten() {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let r = reader(
        &format!("http://127.0.0.1:{port}/KEY"),
        Duration::from_millis(300),
    );
    let err = r.chain_id().await.expect_err("timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("eth_chainId") && msg.contains(&format!("127.0.0.1:{port}")),
        "{msg}"
    );
}

#[tokio::test]
async fn rpc_that_answers_garbage_is_a_bad_response() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().take(4).flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html>not json</html>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let r = reader(
        &format!("http://127.0.0.1:{port}/KEY"),
        Duration::from_secs(10),
    );
    let err = r.chain_id().await.expect_err("garbage");
    assert!(matches!(err, Error::BadResponse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("/KEY"), "{msg}");
}
