//! redoubt-server (being written).

fn main() {}
