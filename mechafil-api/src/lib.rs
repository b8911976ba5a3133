//! # mechafil-api
//!
//! The MechaFil service around [`mechafil_core`]: the network data layer (Spacescope pipeline,
//! redb snapshot store, demo snapshot) and the HTTP API. The `mechafil-api` binary
//! (`src/main.rs`) exposes both as CLI commands.
//!
//! - [`network_data`]: [`network_data::NetworkData`], a snapshot plus the history the API
//!   serves beyond the model inputs, its metadata, consistency check and JSON layout.
//! - [`spacescope`]: the Spacescope pipeline of `shared/spec/DATA.md`.
//! - [`store`]: [`store::SnapshotStore`], the redb file of snapshots and which one is active.
//! - [`update`]: [`update::update_cache`], fetch + validate + activate, recording the outcome.
//! - [`demo`]: [`demo::demo_network_data`], the synthetic snapshot used when the store is empty.
//! - [`commands`]: what each CLI subcommand does.

pub mod commands;
pub mod config;
pub mod demo;
pub mod http;
pub mod network_data;
pub mod spacescope;
pub mod store;
pub mod update;
