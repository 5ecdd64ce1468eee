//! Spawning server tasks that end when the world shuts down.
//!
//! Every listener and every connection the world serves runs through
//! [`spawn_until`], so cancelling the world's one token (which dropping the
//! `World` does) stops them all. Depends on nothing else in the crate.

use std::future::Future;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Spawns `fut` on the current tokio runtime; it is dropped as soon as
/// `shutdown` is cancelled.
pub fn spawn_until<F>(shutdown: &CancellationToken, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let token = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            biased;
            () = token.cancelled() => {}
            () = fut => {}
        }
    });
}

/// Accepts connections on `listener` until `shutdown`, handing each one to
/// `handle` in its own task.
pub fn serve_tcp<H, F>(listener: TcpListener, shutdown: &CancellationToken, handle: H)
where
    H: Fn(TcpStream) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let token = shutdown.clone();
    spawn_until(shutdown, async move {
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => spawn_until(&token, handle(stream)),
                // Out of descriptors or a connection reset before accept:
                // back off briefly and keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    });
}
