//! Integration tests: the real binary against a real redis-server and a fake Binance on
//! loopback. One test binary, a module per area.

mod support;

mod acl;
mod backtest;
mod cache;
mod churn;
mod contract;
mod faults;
mod foreign;
mod generate;
mod golden;
mod hostile;
mod import;
mod inspect;
mod layout;
mod listing;
mod metrics;
mod operator;
mod rotation;
mod script;
mod sentinel;
mod settings_table;
mod signing;
mod snapshot;
mod tune;
mod usage;
