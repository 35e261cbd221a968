//! Measures the core's cost per command with no I/O: pipelined SET and GET
//! through `Node::on_bytes` and `before_sleep` on the in-memory test
//! environment. Run with `cargo run --release -p redoubt-core --example hotpath`.

// A benchmark measures wall time; core itself still never reads a clock.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::time::Instant;

use redoubt_core::testing::TestNode;

fn main() {
    let mut t = TestNode::new();
    let conn = t.connect();
    let pipeline = 16;
    let rounds = 100_000;
    for (name, template) in [
        (
            "SET",
            "*3\r\n$3\r\nSET\r\n$10\r\nkey:{:06}\r\n$3\r\nxxx\r\n",
        ),
        ("GET", "*2\r\n$3\r\nGET\r\n$10\r\nkey:{:06}\r\n"),
    ] {
        let batches: Vec<Vec<u8>> = (0..1000)
            .map(|round| {
                (0..pipeline)
                    .flat_map(|i| {
                        template
                            .replace("{:06}", &format!("{:06}", (round * pipeline + i) % 100_000))
                            .into_bytes()
                    })
                    .collect()
            })
            .collect();
        let started = Instant::now();
        for round in 0..rounds {
            t.node.on_bytes(conn, &batches[round % batches.len()]);
            t.node.before_sleep();
            t.node.env_mut().sent.clear();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let ops = (rounds * pipeline) as f64;
        println!(
            "{name}: {:.0} ns/op, {:.2} M ops/s ",
            elapsed * 1e9 / ops,
            ops / elapsed / 1e6
        );
    }
}
