//! Autoshop: the GraphQL backend-for-frontend of a CRM for auto repair shops.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod fanout;
pub mod ratelimit;
pub mod redis_conn;
pub mod resolvers;
pub mod schema;
pub mod search;
pub mod seed;
pub mod services;
pub mod storage;
pub mod telemetry;

pub use app::App;
pub use config::Settings;
