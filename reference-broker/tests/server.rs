//! The tokio server over loopback: port 0, real sockets, every wait bounded by a timeout.

mod common;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use mqtt_codec::{
    Connect, Decoded, Decoder, Packet, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe,
};
use mqtt_reference_broker::{Config, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use common::{Client, WAIT};

#[tokio::test]
async fn publishes_and_subscribes_over_tcp_in_both_versions() {
    let broker = start(Config::default()).await.unwrap();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5_0] {
        let mut sub = Client::connect(broker.tcp_addr(), version, "sub").await;
        sub.send(Subscribe::single(1, "t/#", QoS::AtLeastOnce))
            .await;
        assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));
        let mut publisher = Client::connect(broker.tcp_addr(), version, "pub").await;
        let mut p = Publish::new("t/x", "hello");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = 1;
        publisher.send(p).await;
        assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));
        match sub.recv().await {
            Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"hello"),
            other => panic!("{other:?}"),
        }
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn a_malformed_packet_closes_the_connection() {
    let broker = start(Config::default()).await.unwrap();
    let mut c = Client::connect(broker.tcp_addr(), ProtocolVersion::V3_1_1, "bad").await;
    c.stream
        .write_all(&[0x36, 5, 0, 1, b't', 0, 1])
        .await
        .unwrap();
    assert_eq!(c.recv().await, None);
    broker.shutdown().await;
}

#[tokio::test]
async fn keep_alive_expiry_closes_the_connection_on_a_real_clock() {
    let broker = start(Config::default()).await.unwrap();
    let mut c = Client::open(broker.tcp_addr(), ProtocolVersion::V5_0).await;
    let mut connect = Connect::new(ProtocolVersion::V5_0, "ka");
    connect.keep_alive = 1;
    c.send(connect).await;
    assert!(matches!(c.recv().await, Some(Packet::ConnAck(_))));
    match c.recv().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::KEEP_ALIVE_TIMEOUT),
        other => panic!("{other:?}"),
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn serves_mqtt_over_websocket_with_the_mqtt_subprotocol() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let config = Config {
        websocket: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    };
    let broker = start(config).await.unwrap();
    let url = format!("ws://{}/mqtt", broker.ws_addr().unwrap());
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
    let (mut ws, response) = timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol").unwrap(),
        "mqtt"
    );
    let connect = Packet::from(Connect::new(ProtocolVersion::V3_1_1, "ws"));
    ws.send(Message::Binary(
        connect.to_bytes(ProtocolVersion::V3_1_1).unwrap(),
    ))
    .await
    .unwrap();
    let reply = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    let mut buf = BytesMut::from(&reply.into_data()[..]);
    let decoded = Decoder::new(ProtocolVersion::V3_1_1)
        .decode(&mut buf)
        .unwrap();
    assert!(
        matches!(decoded, Decoded::Packet(Packet::ConnAck(a)) if a.code == ReasonCode::SUCCESS)
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn serves_mqtt_over_tls_with_a_pem_certificate() {
    let dir = std::env::temp_dir().join(format!("broker-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    // A self-signed certificate for `localhost`, made in-process so the test needs no
    // `openssl` command.
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let config = Config {
        tls: Some(mqtt_reference_broker::TlsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            cert: cert.clone(),
            key,
        }),
        ..Config::default()
    };
    let broker = start(config).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).unwrap();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_config));
    let tcp = TcpStream::connect(broker.tls_addr().unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = timeout(WAIT, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    let connect = Packet::from(Connect::new(ProtocolVersion::V5_0, "tls"));
    tls.write_all(&connect.to_bytes(ProtocolVersion::V5_0).unwrap())
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let mut decoder = Decoder::new(ProtocolVersion::V5_0);
    let ack = loop {
        if let Decoded::Packet(p) = decoder.decode(&mut buf).unwrap() {
            break p;
        }
        let n = timeout(WAIT, tls.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before CONNACK");
    };
    assert!(matches!(ack, Packet::ConnAck(a) if a.code == ReasonCode::SUCCESS));
    broker.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_loses_qos_0_messages_instead_of_growing_memory() {
    let mut config = Config::default();
    config.limits.max_outbound_buffer = 64 * 1024;
    let broker = start(config).await.unwrap();
    let version = ProtocolVersion::V5_0;
    let mut sub = Client::connect(broker.tcp_addr(), version, "slow").await;
    sub.send(Subscribe::single(1, "flood", QoS::AtMostOnce))
        .await;
    assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));
    sub.send(Subscribe::single(2, "marker", QoS::AtLeastOnce))
        .await;
    assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));
    // The subscriber reads nothing while 64 MiB are published: far more than the socket
    // buffers and the broker's 64 KiB budget hold.
    let mut publisher = Client::connect(broker.tcp_addr(), version, "fast").await;
    const SENT: usize = 64 * 1024;
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let mut batch = BytesMut::new();
    for _ in 0..SENT {
        let p = Packet::from(Publish::new("flood", payload.clone()));
        p.encode(version, &mut batch).unwrap();
        if batch.len() > 256 * 1024 {
            publisher.stream.write_all(&batch.split()).await.unwrap();
        }
    }
    publisher.stream.write_all(&batch).await.unwrap();
    // The broker still serves the publisher, and queues the QoS 1 marker behind the flood.
    let mut marker = Publish::new("marker", "end");
    marker.qos = QoS::AtLeastOnce;
    marker.packet_id = 1;
    publisher.send(marker).await;
    assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));
    let mut received = 0;
    loop {
        match sub.recv().await {
            Some(Packet::Publish(p)) if &*p.topic == "flood" => received += 1,
            Some(Packet::Publish(p)) if &*p.topic == "marker" => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(received < SENT, "all {received} messages were buffered");
    broker.shutdown().await;
}
