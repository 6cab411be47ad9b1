//! The reference broker: a spec-strict MQTT 3.1, 3.1.1 and 5.0 broker built on a sans-IO
//! [`engine`] and a thin tokio [`server`] around it.
//!
//! ```no_run
//! # async fn run() -> Result<(), mqtt_reference_broker::Error> {
//! let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default()).await?;
//! println!("listening on {}", broker.tcp_addr());
//! broker.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod engine;
mod error;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "planted-bug")]
pub mod planted;
pub mod server;

pub use config::{Config, Limits, Redirect, RedirectKind, TlsConfig};
pub use engine::{ConnId, Engine, Event};
pub use error::Error;
pub use server::{BrokerHandle, start};
