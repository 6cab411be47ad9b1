//! WebSocket transport (MQTT 5.0 section 6, 3.1.1 section 6): binary frames carry the byte
//! stream; the `mqtt` subprotocol is selected when offered.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{Input, Output, Timeouts, open};

/// Upgrades a socket to WebSocket within the handshake timeout; `None` if it fails or
/// takes longer.
pub(crate) async fn upgrade(stream: TcpStream, timeouts: Timeouts) -> Option<Upgraded> {
    #[expect(
        clippy::result_large_err,
        reason = "the callback's signature is tungstenite's"
    )]
    let callback = |req: &Request, mut resp: Response| {
        let offered = req
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == "mqtt");
        if offered {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        }
        Ok(resp)
    };
    let upgrade = tokio_tungstenite::accept_hdr_async(stream, callback);
    tokio::time::timeout(timeouts.handshake, upgrade)
        .await
        .ok()?
        .ok()
}

/// A socket upgraded to WebSocket.
pub(crate) type Upgraded = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Serves one upgraded WebSocket connection.
pub(crate) async fn serve(
    ws: Upgraded,
    timeouts: Timeouts,
    input: mpsc::Sender<Input>,
    mut stop: watch::Receiver<bool>,
) {
    let Some((id, mut out)) = open(&input, None).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    loop {
        tokio::select! {
            msg = source.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    if input.send(Input::Data(id, data)).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                // Text frames are not allowed (MQTT-6.0.0-1): close.
                Some(Ok(Message::Text(_) | Message::Close(_)) | Err(_)) | None => {
                    let _ = input.send(Input::Closed(id)).await;
                    break;
                }
            },
            msg = out.recv() => match msg {
                Some(Output::Data(data)) => {
                    let len = data.len();
                    // A peer that stops reading is dropped after the write timeout.
                    let sent = tokio::time::timeout(timeouts.write, sink.send(Message::Binary(data)));
                    if !matches!(sent.await, Ok(Ok(()))) {
                        let _ = input.send(Input::Closed(id)).await;
                        break;
                    }
                    if input.send(Input::Written(id, len)).await.is_err() {
                        break;
                    }
                }
                Some(Output::Close) | None => {
                    let _ = sink.close().await;
                    break;
                }
            },
            _ = stop.changed() => break,
        }
    }
}
