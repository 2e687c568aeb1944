//! Black-box API tests: each test starts the app on port 0 with a database of its own, on SQLite by default
//! or on PostgreSQL when `DATABASE_URL` names one.

mod access;
mod caches;
mod contract;
mod customers;
mod files;
mod helpers;
mod identity;
mod limits;
mod loaders;
mod migrations;
mod pagination;
mod platform;
mod reads;
mod search;
mod security;
mod subscriptions;
mod vehicles;
mod workflow;
