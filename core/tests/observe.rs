//! The operator's observability commands on a test node: SLOWLOG, LATENCY,
//! MONITOR, INFO cpu/commandstats/errorstats and MEMORY STATS/DOCTOR. The
//! test env's clock moves `us_per_clock_read` microseconds at each read, so
//! a command takes exactly that long.

use redoubt_core::testing::TestNode;

/// A node whose commands each take `us` microseconds.
fn node_with_command_time(us: u64) -> (TestNode, u64) {
    let (mut t, c) = TestNode::with_client();
    t.node.env_mut().us_per_clock_read = us;
    (t, c)
}

/// Lines of an INFO section's body, without its header.
fn info_lines(t: &mut TestNode, c: u64, section: &str) -> Vec<String> {
    let reply = t.cmd(c, &["INFO", section]);
    let body = reply.split_once("\r\n").map_or("", |(_, body)| body);
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

// An entry has id, time, microseconds, the arguments, the address and the
// name; the newest comes first, and the name is the one set by the command.
#[test]
fn slowlog_entries_have_redis_shape() {
    let (mut t, c) = node_with_command_time(40);
    assert_eq!(t.cmd(c, &["SLOWLOG", "LEN"]), ":0\r\n");
    t.cmd(c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    t.cmd(c, &["SET", "foo", "bar"]);
    t.cmd(c, &["CLIENT", "SETNAME", "me"]);
    assert_eq!(
        t.cmd(c, &["SLOWLOG", "GET", "2"]),
        "*2\r\n\
         *6\r\n:2\r\n:1700000000\r\n:40\r\n*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$2\r\nme\r\n$15\r\n127.0.0.1:40000\r\n$2\r\nme\r\n\
         *6\r\n:1\r\n:1700000000\r\n:40\r\n*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n$15\r\n127.0.0.1:40000\r\n$0\r\n\r\n"
    );
    assert_eq!(t.cmd(c, &["SLOWLOG", "LEN"]), ":4\r\n");
    assert!(t.cmd(c, &["SLOWLOG", "GET", "-1"]).starts_with("*5\r\n"));
    assert_eq!(t.cmd(c, &["SLOWLOG", "RESET"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SLOWLOG", "LEN"]), ":1\r\n", "RESET logs itself");
}

// Argument errors answer in Redis's words.
#[test]
fn slowlog_argument_errors() {
    let (mut t, c) = TestNode::with_client();
    let count_error = "-ERR count should be greater than or equal to -1\r\n";
    assert_eq!(t.cmd(c, &["SLOWLOG", "GET", "-2"]), count_error);
    assert_eq!(t.cmd(c, &["SLOWLOG", "GET", "x"]), count_error);
    assert_eq!(
        t.cmd(c, &["SLOWLOG", "GET", "1", "2"]),
        "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SLOWLOG", "LEN", "1"]),
        "-ERR wrong number of arguments for 'slowlog|len' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "slowlog-log-slower-than", "-2"]),
        "-ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive\r\n"
    );
    assert!(t.cmd(c, &["SLOWLOG", "HELP"]).starts_with(
        "*12\r\n+SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
}

// The threshold and the length are obeyed: -1 logs nothing, max-len keeps
// the newest; long arguments and long argument lists are shortened.
#[test]
fn slowlog_threshold_length_and_truncation() {
    let (mut t, c) = node_with_command_time(500);
    t.cmd(c, &["CONFIG", "SET", "slowlog-log-slower-than", "501"]);
    t.cmd(c, &["PING"]);
    assert_eq!(t.cmd(c, &["SLOWLOG", "LEN"]), ":0\r\n");
    t.cmd(c, &["CONFIG", "SET", "slowlog-log-slower-than", "500"]);
    assert_eq!(t.cmd(c, &["SLOWLOG", "LEN"]), ":1\r\n");
    t.cmd(c, &["CONFIG", "SET", "slowlog-max-len", "2"]);
    let long = "x".repeat(130);
    let mut many = vec!["DEL"];
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    many.extend(keys.iter().map(String::as_str));
    t.cmd(c, &many);
    t.cmd(c, &["SET", "k", &long]);
    let entries = t.cmd(c, &["SLOWLOG", "GET"]);
    assert!(entries.starts_with("*2\r\n"), "{entries}");
    let cut = format!("$146\r\n{}... (2 more bytes)\r\n", "x".repeat(128));
    assert!(entries.contains(&cut), "{entries}");
    assert!(
        entries.contains("*32\r\n$3\r\nDEL\r\n") && entries.contains("... (10 more arguments)"),
        "{entries}"
    );
    t.cmd(c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    t.cmd(c, &["SLOWLOG", "RESET"]);
    t.cmd(c, &["PING"]);
    assert_eq!(t.cmd(c, &["SLOWLOG", "LEN"]), ":0\r\n");
}

// EXEC is not logged, the commands it ran are; a script's commands are
// logged as the script's client (`?:0`, no name) before the script; AUTH's
// password is hidden.
#[test]
fn slowlog_exec_scripts_and_redaction() {
    let (mut t, c) = node_with_command_time(10);
    t.cmd(c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    t.cmd(c, &["SLOWLOG", "RESET"]);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["SET", "a", "1"]);
    t.cmd(c, &["EXEC"]);
    t.cmd(c, &["EVAL", "return redis.call('get','a')", "0"]);
    t.cmd(c, &["AUTH", "secret"]);
    let entries = t.cmd(c, &["SLOWLOG", "GET", "-1"]);
    let names: Vec<&str> = entries
        .split("\r\n")
        .filter(|l| ["AUTH", "EVAL", "get", "SET", "MULTI", "EXEC"].contains(l))
        .collect();
    assert_eq!(names, ["AUTH", "EVAL", "get", "SET", "MULTI"], "{entries}");
    assert!(entries.contains("$4\r\nAUTH\r\n$10\r\n(redacted)\r\n"));
    assert!(entries.contains("$3\r\nget\r\n$1\r\na\r\n$3\r\n?:0\r\n$0\r\n"));
}

// Each command is counted under its full name; a refusal before running
// counts as rejected, an error reply as failed; each error is counted once
// by its code: a script's command's error when it happens, caught or not,
// and not again when the script passes it on.
#[test]
fn commandstats_and_errorstats_count_as_redis() {
    let (mut t, c) = node_with_command_time(3);
    t.cmd(c, &["SET", "s", "v"]);
    t.cmd(c, &["LPUSH", "s", "x"]);
    t.cmd(c, &["INCR", "s"]);
    t.cmd(c, &["FOOBAR"]);
    t.cmd(c, &["GET"]);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["SET", "a", "1"]);
    t.cmd(c, &["FOO"]);
    t.cmd(c, &["EXEC"]);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["INCR", "s"]);
    t.cmd(c, &["EXEC"]);
    t.cmd(c, &["EVAL", "return redis.call('incr','s')", "0"]);
    t.cmd(c, &["EVAL", "return redis.pcall('incr','s')", "0"]);
    t.cmd(c, &["EVAL", "return redis.error_reply('MY err')", "0"]);
    t.cmd(c, &["EVAL", "redis.pcall('incr','s') return 1", "0"]);
    let stats = info_lines(&mut t, c, "commandstats");
    for expected in [
        "cmdstat_set:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=0",
        "cmdstat_lpush:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=1",
        "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0",
        "cmdstat_multi:calls=2,usec=6,usec_per_call=3.00,rejected_calls=0,failed_calls=0",
        "cmdstat_exec:calls=2,usec=12,usec_per_call=6.00,rejected_calls=0,failed_calls=1",
        "cmdstat_incr:calls=5,usec=15,usec_per_call=3.00,rejected_calls=0,failed_calls=5",
    ] {
        assert!(
            stats.iter().any(|l| l == expected),
            "{expected} in {stats:?}"
        );
    }
    assert!(
        stats.iter().any(|l| l.starts_with("cmdstat_eval:calls=4,")
            && l.ends_with("rejected_calls=0,failed_calls=3")),
        "{stats:?}"
    );
    assert_eq!(
        info_lines(&mut t, c, "errorstats"),
        [
            "errorstat_ERR:count=8",
            "errorstat_EXECABORT:count=1",
            "errorstat_MY:count=1",
            "errorstat_WRONGTYPE:count=1"
        ]
    );
    assert!(t
        .cmd(c, &["INFO", "stats"])
        .contains("total_error_replies:11\r\n"));
    t.cmd(c, &["CONFIG", "RESETSTAT"]);
    assert!(info_lines(&mut t, c, "errorstats").is_empty());
    assert_eq!(
        info_lines(&mut t, c, "commandstats"),
        [
            "cmdstat_config|resetstat:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=0",
            "cmdstat_info:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=0"
        ],
        "the INFO before counts, the running one not yet"
    );
}

// The default INFO has cpu, modules and errorstats but not commandstats or
// latencystats; `all` and `everything` have all of them; the test env's
// cpu is zeros.
#[test]
fn info_sections_as_redis_lists_them() {
    let (mut t, c) = TestNode::with_client();
    let headers = |info: String| -> Vec<String> {
        info.lines()
            .filter(|l| l.starts_with("# "))
            .map(str::to_string)
            .collect()
    };
    let default = headers(t.cmd(c, &["INFO"]));
    assert_eq!(
        default,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    for everything in ["all", "everything"] {
        let all = headers(t.cmd(c, &["INFO", everything]));
        assert!(all.contains(&"# Commandstats".to_string()), "{all:?}");
        assert!(all.contains(&"# Latencystats".to_string()), "{all:?}");
    }
    let latency = t.cmd(c, &["INFO", "latencystats"]);
    assert!(
        latency.contains("latency_percentiles_usec_info:p50=1.024,p99=1.024,p99.9=1.024\r\n"),
        "{latency}"
    );
    assert_eq!(
        info_lines(&mut t, c, "cpu"),
        [
            "used_cpu_sys:0.000000",
            "used_cpu_user:0.000000",
            "used_cpu_sys_children:0.000000",
            "used_cpu_user_children:0.000000",
            "used_cpu_sys_main_thread:0.000000",
            "used_cpu_user_main_thread:0.000000"
        ]
    );
}

// A command at or over the threshold is a `command` or `fast-command`
// sample; LATEST, HISTORY, GRAPH and RESET read and clear them.
#[test]
fn latency_monitor_records_slow_commands() {
    let (mut t, c) = node_with_command_time(25_000);
    assert_eq!(t.cmd(c, &["LATENCY", "LATEST"]), "*0\r\n");
    assert!(t.cmd(c, &["LATENCY", "DOCTOR"]).contains("disabled"));
    t.cmd(c, &["CONFIG", "SET", "latency-monitor-threshold", "26"]);
    t.cmd(c, &["GET", "a"]);
    assert_eq!(
        t.cmd(c, &["LATENCY", "LATEST"]),
        "*0\r\n",
        "under the threshold"
    );
    t.cmd(c, &["CONFIG", "SET", "latency-monitor-threshold", "25"]);
    t.cmd(c, &["GET", "a"]);
    t.cmd(c, &["KEYS", "*"]);
    // From here on commands take no time, so LATENCY records nothing of
    // its own.
    t.node.env_mut().us_per_clock_read = 0;
    assert_eq!(
        t.cmd(c, &["LATENCY", "LATEST"]),
        "*2\r\n*4\r\n$7\r\ncommand\r\n:1700000000\r\n:25\r\n:25\r\n\
         *4\r\n$12\r\nfast-command\r\n:1700000000\r\n:25\r\n:25\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LATENCY", "HISTORY", "command"]),
        "*1\r\n*2\r\n:1700000000\r\n:25\r\n"
    );
    assert_eq!(t.cmd(c, &["LATENCY", "HISTORY", "nothing"]), "*0\r\n");
    let graph = t.cmd(c, &["LATENCY", "GRAPH", "command"]);
    assert!(
        graph.contains("command - high 25 ms, low 25 ms (all time high 25 ms)\n"),
        "{graph}"
    );
    assert!(graph.ends_with(" \n \n \n_\n \n0\ns\n\r\n"), "{graph:?}");
    assert_eq!(
        t.cmd(c, &["LATENCY", "GRAPH", "nothing"]),
        "-ERR No samples available for event 'nothing'\r\n"
    );
    let doctor = t.cmd(c, &["LATENCY", "DOCTOR"]);
    assert!(
        doctor.contains("1. command: 1 latency spikes (average 25ms"),
        "{doctor}"
    );
    assert_eq!(
        t.cmd(c, &["LATENCY", "RESET", "command", "nothing"]),
        ":1\r\n"
    );
    assert_eq!(t.cmd(c, &["LATENCY", "RESET"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["LATENCY", "LATEST"]), "*0\r\n");
}

// A monitor sees others' commands, its own too, with Redis's quoting; a
// script's commands come after the script, from `lua`; administrative
// commands and refused ones are not shown; RESET ends it.
#[test]
fn monitor_lines_and_lifetime() {
    let mut t = TestNode::new();
    let m = t.connect();
    let c = t.connect();
    assert_eq!(t.cmd(m, &["MONITOR"]), "+OK\r\n");
    assert_eq!(t.cmd(m, &["MONITOR"]), "", "a second MONITOR gets no reply");
    t.cmd(c, &["SELECT", "5"]);
    t.cmd(c, &["SET", "a b", "x\ny\u{1}\"z"]);
    t.cmd(c, &["CONFIG", "GET", "port"]);
    t.cmd(c, &["GET"]);
    t.cmd(c, &["EVAL", "return redis.call('get','k')", "0"]);
    t.cmd(c, &["AUTH", "pw"]);
    let at = "+1700000000.000000";
    assert_eq!(
        t.take_sent(m),
        format!(
            "{at} [5 127.0.0.1:40000] \"SELECT\" \"5\"\r\n\
             {at} [5 127.0.0.1:40000] \"SET\" \"a b\" \"x\\ny\\x01\\\"z\"\r\n\
             {at} [5 127.0.0.1:40000] \"EVAL\" \"return redis.call('get','k')\" \"0\"\r\n\
             {at} [5 lua] \"get\" \"k\"\r\n\
             {at} [5 127.0.0.1:40000] \"AUTH\" \"(redacted)\"\r\n"
        )
    );
    assert_eq!(
        t.cmd(m, &["GET", "a"]),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
    let info = t.cmd(m, &["CLIENT", "INFO"]);
    assert!(info.contains(" flags=O "), "{info}");
    assert!(info.ends_with(&format!("{at} [0 127.0.0.1:40000] \"CLIENT\" \"INFO\"\r\n")));
    assert_eq!(t.cmd(m, &["RESET"]), "+RESET\r\n");
    t.cmd(c, &["PING"]);
    assert_eq!(t.take_sent(m), "");
    assert!(t.cmd(m, &["CLIENT", "INFO"]).contains(" flags=N "));
}

// MONITOR queued in MULTI is refused when EXEC runs it, as Redis refuses a
// client that must get one reply per command.
#[test]
fn monitor_inside_multi_is_refused() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["MULTI"]);
    assert_eq!(t.cmd(c, &["MONITOR"]), "+QUEUED\r\n");
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    );
    assert_eq!(t.cmd(c, &["PING"]), "+PONG\r\n");
}

// MEMORY STATS has Redis's fields in Redis's order; the others answer as
// Redis does without jemalloc.
#[test]
fn memory_stats_doctor_malloc_stats_purge() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["SET", "a", "1"]);
    let stats = t.cmd(c, &["MEMORY", "STATS"]);
    let names: Vec<&str> = stats
        .split("\r\n")
        .filter(|l| l.starts_with(|ch: char| ch.is_ascii_lowercase()))
        .collect();
    assert_eq!(
        names,
        [
            "peak.allocated",
            "total.allocated",
            "startup.allocated",
            "replication.backlog",
            "clients.slaves",
            "clients.normal",
            "cluster.links",
            "aof.buffer",
            "lua.caches",
            "functions.caches",
            "db.0",
            "overhead.hashtable.main",
            "overhead.hashtable.expires",
            "overhead.hashtable.slot-to-keys",
            "overhead.total",
            "keys.count",
            "keys.bytes-per-key",
            "dataset.bytes",
            "dataset.percentage",
            "peak.percentage",
            "allocator.allocated",
            "allocator.active",
            "allocator.resident",
            "allocator-fragmentation.ratio",
            "allocator-fragmentation.bytes",
            "allocator-rss.ratio",
            "allocator-rss.bytes",
            "rss-overhead.ratio",
            "rss-overhead.bytes",
            "fragmentation",
            "fragmentation.bytes"
        ]
    );
    assert!(stats.starts_with("*52\r\n"), "{stats}");
    assert!(stats.contains("$10\r\nkeys.count\r\n:1\r\n"), "{stats}");
    assert_eq!(
        t.cmd(c, &["MEMORY", "MALLOC-STATS"]),
        "$45\r\nStats not supported for the current allocator\r\n"
    );
    assert_eq!(t.cmd(c, &["MEMORY", "PURGE"]), "+OK\r\n");
    assert!(t.cmd(c, &["MEMORY", "DOCTOR"]).contains("too little"));
}

// LATENCY HISTOGRAM counts each command's calls in power-of-two buckets of
// microseconds, cumulatively; a container names its subcommands, unknown
// names are skipped, CONFIG RESETSTAT starts it over.
#[test]
fn latency_histogram_per_command() {
    let (mut t, c) = node_with_command_time(3);
    t.cmd(c, &["CONFIG", "RESETSTAT"]);
    t.cmd(c, &["SET", "a", "b"]);
    t.cmd(c, &["SET", "c", "d"]);
    t.cmd(c, &["CLIENT", "ID"]);
    assert_eq!(
        t.cmd(c, &["LATENCY", "HISTOGRAM", "set", "nosuch"]),
        "*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n*2\r\n:4\r\n:2\r\n"
    );
    let client = t.cmd(c, &["LATENCY", "HISTOGRAM", "client"]);
    assert!(client.starts_with("*2\r\n$9\r\nclient|id\r\n"), "{client}");
    assert_eq!(t.cmd(c, &["LATENCY", "HISTOGRAM", "nosuch"]), "*0\r\n");
    // client|id, config|resetstat, latency|histogram (the calls above), set.
    let all = t.cmd(c, &["LATENCY", "HISTOGRAM"]);
    assert!(all.starts_with("*8\r\n$9\r\nclient|id\r\n"), "{all}");
    assert!(all.contains("$16\r\nconfig|resetstat\r\n"), "{all}");
}
