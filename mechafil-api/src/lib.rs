//! # mechafil-api
//!
//! The MechaFil service around [`mechafil_core`]: the network data layer (Spacescope pipeline,
//! redb snapshot store, demo snapshot) and the HTTP API. The `mechafil-api` binary
//! (`src/main.rs`) exposes both as CLI commands.
//!
//! - [`network_data`]: [`network_data::NetworkData`], a snapshot plus the history the API
//!   serves beyond the model inputs, and its metadata.
//! - [`commands`]: what each CLI subcommand does.

pub mod commands;
pub mod config;
pub mod http;
pub mod network_data;
