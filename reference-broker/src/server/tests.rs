//! The shell's own timing rules, on tokio's paused clock or with `now` passed in: the
//! accept back-off and the write timeout of a closing TCP connection.

use std::sync::atomic::AtomicUsize;

use super::*;
use crate::config::Limits;

/// A listener whose first `failures` accepts fail as when out of file descriptors.
struct Failing {
    failures: usize,
    calls: AtomicUsize,
}

impl Failing {
    fn new(failures: usize) -> Self {
        Self {
            failures,
            calls: AtomicUsize::new(0),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Accept for Failing {
    type Stream = ();
    fn accept(&self) -> impl Future<Output = io::Result<((), SocketAddr)>> + Send {
        let fails = self.calls.fetch_add(1, Ordering::SeqCst) < self.failures;
        async move {
            if fails {
                // EMFILE: too many open files.
                Err(io::Error::from_raw_os_error(24))
            } else {
                Ok(((), SocketAddr::from(([127, 0, 0, 1], 1883))))
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_accept_is_retried_every_100_ms_not_in_a_spin() {
    let listener = Failing::new(usize::MAX);
    let (_stop, mut stopped) = watch::channel(false);
    let second = Duration::from_secs(1);
    let waited = tokio::time::timeout(second, next_socket(&listener, &mut stopped)).await;
    assert!(
        waited.is_err(),
        "a socket from a listener that always fails"
    );
    // One try at 0 ms and one per 100 ms back-off; a spin would make millions.
    let calls = listener.calls();
    assert!((10..=11).contains(&calls), "{calls} accept() calls in 1 s");
}

#[tokio::test(start_paused = true)]
async fn accepting_resumes_once_accept_works_again() {
    let listener = Failing::new(5);
    let (_stop, mut stopped) = watch::channel(false);
    let started = tokio::time::Instant::now();
    let socket = next_socket(&listener, &mut stopped).await;
    assert!(socket.is_some());
    assert_eq!(listener.calls(), 6);
    assert_eq!(started.elapsed(), ACCEPT_BACKOFF * 5);
}

#[tokio::test(start_paused = true)]
async fn stopping_ends_the_back_off() {
    let listener = Failing::new(usize::MAX);
    let (stop, mut stopped) = watch::channel(false);
    let started = tokio::time::Instant::now();
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        stop.send(true).unwrap();
    };
    let (socket, ()) = tokio::join!(next_socket(&listener, &mut stopped), stopper);
    assert!(socket.is_none());
    assert_eq!(started.elapsed(), Duration::from_millis(250));
}

#[tokio::test]
async fn a_closed_connection_whose_output_cannot_drain_is_dropped_at_the_write_timeout() {
    let write_timeout = Duration::from_secs(30);
    let limits = Limits {
        write_timeout,
        ..Limits::default()
    };
    let (input, _unused) = mpsc::channel(1);
    let mut shell = Shell::new(Engine::new(limits), input);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    // Connected, and never read.
    let peer = socket
        .connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let now = Instant::now();
    shell.apply(Input::Accepted(stream), now);
    let id = *shell.conns.keys().next().unwrap();
    let Some(Peer::Direct(d)) = shell.conns.get_mut(&id) else {
        panic!("a TCP connection is served directly");
    };
    // Fill the socket until it takes no more; what is left waits in the shell.
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match d.stream.try_write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    d.pending.extend_from_slice(b"never drained");
    // A PUBLISH before CONNECT: the engine closes the connection.
    shell
        .engine
        .handle_data(id, &[0x30, 0x03, 0x00, 0x01, b't'], now);
    shell.flush(now);
    assert!(
        shell.conns.contains_key(&id),
        "dropped before its output could drain"
    );
    shell.drop_lingering(now + write_timeout - Duration::from_millis(1));
    assert!(
        shell.conns.contains_key(&id),
        "dropped before the write timeout"
    );
    shell.drop_lingering(now + write_timeout);
    assert!(
        !shell.conns.contains_key(&id),
        "kept past the write timeout"
    );
    drop(peer);
}
