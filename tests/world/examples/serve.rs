//! Starts a world and prints where everything is, for poking at it by hand
//! with `openssl s_client`, `dig` or the supplywatch binary:
//!
//! ```text
//! cargo run -p supplywatch-testworld --example serve -- [SECONDS]
//! ```
//!
//! Serves for SECONDS (default 300), then stops.

use std::time::Duration;

use supplywatch_testworld::{TlsCase, World};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 300,
    };
    let world = World::start().await?;
    println!("dns        {}", world.dns);
    println!("roots_pem  {}", world.roots_pem.display());
    println!("rogue_root {}", world.rogue_root_pem.display());
    for case in TlsCase::ALL {
        println!(
            "{:<17} {}  ({})",
            case.name(),
            world.addr(case),
            world.endpoint(case)
        );
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok(())
}
