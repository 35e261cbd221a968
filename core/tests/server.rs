//! Server commands: INFO, CONFIG, COMMAND, TIME, LASTSAVE, SHUTDOWN.

use redoubt_core::config::Config;
use redoubt_core::testing::TestNode;

// INFO carries Redis's section headers and the fields tools look for.
#[test]
fn info_sections_and_fields() {
    let mut t = TestNode::new();
    let c = t.connect();
    let info = t.cmd(c, &["INFO"]);
    for needle in [
        "# Server\r\nredis_version:7.0.15\r\n",
        "redis_mode:standalone\r\n",
        "process_id:4242\r\n",
        "tcp_port:6379\r\n",
        "# Clients\r\nconnected_clients:1\r\n",
        "# Memory\r\nused_memory:1000000\r\nused_memory_human:976.56K\r\n",
        "# Persistence\r\nloading:0\r\n",
        "# Stats\r\n",
        "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(info.contains(needle), "missing {needle:?} in {info}");
    }
    let replication = t.cmd(c, &["INFO", "replication"]);
    assert!(replication.contains("role:master"));
    assert!(!replication.contains("# Server"));
    assert_eq!(t.cmd(c, &["INFO", "nosuchsection"]), "$0\r\n\r\n");
}

// The keyspace section and command counters follow the data.
#[test]
fn info_counts() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["SET", "a", "1"]);
    t.cmd(c, &["SET", "b", "1", "EX", "100"]);
    t.cmd(c, &["GET", "a"]);
    t.cmd(c, &["GET", "zz"]);
    let info = t.cmd(c, &["INFO", "keyspace", "stats"]);
    assert!(
        info.contains("db0:keys=2,expires=1,avg_ttl=0\r\n"),
        "{info}"
    );
    assert!(info.contains("total_commands_processed:4\r\n"), "{info}");
    assert!(
        info.contains("keyspace_hits:1\r\nkeyspace_misses:1\r\n"),
        "{info}"
    );
    assert_eq!(t.cmd(c, &["CONFIG", "RESETSTAT"]), "+OK\r\n");
    assert!(t
        .cmd(c, &["INFO", "stats"])
        .contains("total_commands_processed:1\r\n"));
}

// CONFIG GET matches globs; CONFIG SET validates, applies all or nothing.
#[test]
fn config_get_and_set() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "maxmemory-policy"]),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "appendfsync", "databases"]),
        "*4\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$23\r\n3600 1 300 100 60 10000\r\n"
    );
    let ports = t.cmd(c, &["CONFIG", "GET", "*port*"]);
    assert!(ports.contains("$4\r\nport\r\n$4\r\n6379\r\n"), "{ports}");
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "hz", "20", "timeout", "5"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "appendfsync", "always", "appendonly", "maybe"]),
        "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "appendfsync"]),
        "*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "nosuch", "1"]),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "databases", "4"]),
        "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"
    );
    // The start-up-only directives Redis 7.0 refuses the same way.
    for (name, value) in [
        ("replicaof", "x"),
        ("daemonize", "yes"),
        ("pidfile", "/tmp/p"),
        ("logfile", "x"),
        ("enable-debug-command", "yes"),
    ] {
        assert_eq!(
            t.cmd(c, &["CONFIG", "SET", name, value]),
            format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config\r\n")
        );
    }
    assert_eq!(t.cmd(c, &["CONFIG", "SET", "maxmemory", "1gb"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "activerehashing", "perhaps"]),
        "-ERR CONFIG SET failed (possibly related to argument 'activerehashing') - argument must be 'yes' or 'no'\r\n"
    );
}

// A changed requirepass applies to new connections.
#[test]
fn config_set_requirepass() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(t.cmd(c, &["CONFIG", "SET", "requirepass", "pw"]), "+OK\r\n");
    let d = t.connect();
    assert_eq!(t.cmd(d, &["PING"]), "-NOAUTH Authentication required.\r\n");
}

// COMMAND COUNT/INFO/DOCS/GETKEYS in Redis 7's shapes.
#[test]
fn command_introspection() {
    let mut t = TestNode::new();
    let c = t.connect();
    let count: usize = t
        .cmd(c, &["COMMAND", "COUNT"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(count >= 60, "{count}");
    let info = t.cmd(c, &["COMMAND", "INFO", "get", "nosuch"]);
    assert!(
        info.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n"),
        "{info}"
    );
    assert!(info.ends_with("$-1\r\n"), "{info}");
    let docs = t.cmd(c, &["COMMAND", "DOCS", "echo"]);
    assert!(
        docs.starts_with("*2\r\n$4\r\necho\r\n*8\r\n$7\r\nsummary\r\n"),
        "{docs}"
    );
    assert_eq!(
        t.cmd(c, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    let all = t.cmd(c, &["COMMAND"]);
    assert!(all.starts_with(&format!("*{count}\r\n")));
    let config_get = t.cmd(c, &["COMMAND", "INFO", "config|get"]);
    assert!(
        config_get.starts_with("*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n"),
        "{config_get}"
    );
}

// Commands whose keys move with their arguments: COMMAND GETKEYS finds
// them as Redis 7.0 does (numkeys counts, SORT's last STORE), refuses a
// count that runs past the arguments, and COMMAND INFO flags them.
#[test]
fn movable_keys() {
    let mut t = TestNode::new();
    let c = t.connect();
    let keys = |t: &mut TestNode, argv: &[&str]| {
        let mut full = vec!["COMMAND", "GETKEYS"];
        full.extend_from_slice(argv);
        t.cmd(c, &full)
    };
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"],
            "*3\r\n$3\r\ndst\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["ZDIFFSTORE", "d", "1", "a"],
            "*2\r\n$1\r\nd\r\n$1\r\na\r\n",
        ),
        (
            &["LMPOP", "2", "a", "b", "LEFT"],
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (&["BLMPOP", "0", "1", "a", "LEFT"], "*1\r\n$1\r\na\r\n"),
        (
            &["BZMPOP", "0", "2", "a", "b", "MIN"],
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (&["ZINTER", "1", "a"], "*1\r\n$1\r\na\r\n"),
        (&["SORT", "abc"], "*1\r\n$3\r\nabc\r\n"),
        (
            &["SORT", "abc", "STORE", "def"],
            "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n",
        ),
        // BY and GET take patterns, LIMIT two numbers: none is a STORE.
        (
            &[
                "SORT", "abc", "BY", "store", "LIMIT", "0", "1", "GET", "store", "STORE", "x",
                "STORE", "w",
            ],
            "*2\r\n$3\r\nabc\r\n$1\r\nw\r\n",
        ),
        (&["SORT_RO", "abc", "GET", "#"], "*1\r\n$3\r\nabc\r\n"),
        (
            &["ZUNION", "5", "a", "b"],
            "-ERR Invalid arguments specified for command\r\n",
        ),
        (
            &["LMPOP", "x", "a"],
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
        (&["NOSUCH", "a"], "-ERR Invalid command specified\r\n"),
        (&["PING"], "-ERR The command has no key arguments\r\n"),
    ];
    for (argv, want) in cases {
        assert_eq!(keys(&mut t, argv), *want, "{argv:?}");
    }
    let info = t.cmd(c, &["COMMAND", "INFO", "zunionstore"]);
    assert!(
        info.contains("*3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n"),
        "{info}"
    );
    assert!(
        info.contains("+@write\r\n+@sortedset\r\n+@slow\r\n"),
        "{info}"
    );
}

// TIME and LASTSAVE read the node's clock.
#[test]
fn time_and_lastsave() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["TIME"]),
        "*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n"
    );
    assert_eq!(t.cmd(c, &["LASTSAVE"]), ":1700000000\r\n");
}

// SHUTDOWN asks the driver to stop and sends no reply; ABORT without a
// shutdown in progress is an error.
#[test]
fn shutdown_requests_exit() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(t.cmd(c, &["SHUTDOWN", "BOGUS"]), "-ERR syntax error\r\n");
    assert_eq!(t.cmd(c, &["SHUTDOWN", "NOSAVE"]), "");
    assert!(t.node.shutdown_requested());
    t.node.finish_shutdown();
    assert_eq!(t.node.env().closed, vec![c]);
}

// The old names of the encoding directives answer CONFIG GET with their own
// name, as Redis 7.0 does, and setting one sets the directive.
#[test]
fn config_aliases_answer_by_their_own_name() {
    let (mut t, c) = redoubt_core::testing::TestNode::with_client();
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "list-max-ziplist-size"]),
        "*2\r\n$21\r\nlist-max-ziplist-size\r\n$2\r\n-2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "hash-max-ziplist-entries", "7"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "hash-max-*-entries"]),
        "*4\r\n$25\r\nhash-max-listpack-entries\r\n$1\r\n7\r\n$24\r\nhash-max-ziplist-entries\r\n$1\r\n7\r\n"
    );
}

// MEMORY USAGE answers an estimate in bytes, null for a missing key, and
// Redis's errors for its options.
#[test]
fn memory_usage() {
    let (mut t, c) = redoubt_core::testing::TestNode::with_client();
    assert_eq!(t.cmd(c, &["MEMORY", "USAGE", "missing"]), "$-1\r\n");
    t.cmd(c, &["HSET", "h", "f", "v"]);
    let small: i64 = t.cmd(c, &["MEMORY", "USAGE", "h"])[1..]
        .trim()
        .parse()
        .unwrap();
    for i in 0..1000 {
        t.cmd(c, &["HSET", "h", &format!("field-{i}"), "value"]);
    }
    let large: i64 = t.cmd(c, &["MEMORY", "USAGE", "h", "SAMPLES", "0"])[1..]
        .trim()
        .parse()
        .unwrap();
    assert!(small > 0 && large > 10 * small, "{small} {large}");
    assert_eq!(
        t.cmd(c, &["MEMORY", "USAGE", "h", "SAMPLES", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MEMORY", "USAGE", "h", "SAMPLES", "-1"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MEMORY", "USAGE", "h", "FOO"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MEMORY", "USAGE"]),
        "-ERR wrong number of arguments for 'memory|usage' command\r\n"
    );
}

/// Redis 7's protected configs take `local` too (loopback clients only);
/// a config file or command line that says so must start the server.
#[test]
fn protected_configs_take_yes_no_or_local() {
    let mut config = redoubt_core::Config::default();
    let applied =
        config.apply_file_text("enable-debug-command local\nenable-protected-configs yes\n");
    assert!(applied.is_ok(), "{applied:?}");
    assert_eq!(config.get("enable-debug-command").as_deref(), Some("local"));
    let refused = config.apply_file_text("enable-module-command sometimes\n");
    assert!(refused.is_err());
}

// DEBUG is refused unless enable-debug-command allows it; `local` allows
// a loopback client. SLEEP stops the node for its time, SET-ACTIVE-EXPIRE
// 0 stops the cron from expiring keys, CHANGE-REPL-ID gives a new
// replication id and clears the second one.
#[test]
fn debug_is_gated_and_its_knobs_work() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert!(t
        .cmd(c, &["DEBUG", "SLEEP", "0"])
        .starts_with("-ERR DEBUG command not allowed."));
    let mut config = Config::default();
    config
        .apply_startup("enable-debug-command", "local")
        .unwrap();
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    let before = t.node.env().monotonic_ms;
    assert_eq!(t.cmd(c, &["DEBUG", "SLEEP", "1.5"]), "+OK\r\n");
    assert_eq!(t.node.env().monotonic_ms - before, 1500);
    assert_eq!(t.cmd(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "v", "PX", "10"]), "+OK\r\n");
    t.advance(5_000);
    assert_eq!(
        t.cmd(c, &["DEBUG", "DIGEST-VALUE", "k"]).len(),
        47,
        "still stored"
    );
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), "+OK\r\n");
    t.advance(1_000);
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":0\r\n");
    let replid = t.node.server().repl.replid.clone();
    assert_eq!(t.cmd(c, &["DEBUG", "CHANGE-REPL-ID"]), "+OK\r\n");
    assert_ne!(t.node.server().repl.replid, replid);
    assert_eq!(t.node.server().repl.replid2, "0".repeat(40));
    let sizes = t.cmd(c, &["DEBUG", "STRUCTSIZE"]);
    assert!(
        sizes.contains("bits:64 value:") && sizes.contains(" client:"),
        "{sizes}"
    );
    assert_eq!(
        t.cmd(c, &["DEBUG", "JMAP"]),
        "-ERR unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP.\r\n"
    );
}
/// A config with `rename-command` lines applied as a config file would.
fn renamed(lines: &str) -> redoubt_core::Config {
    let mut config = redoubt_core::Config::default();
    config
        .apply_file_text(lines)
        .expect("rename-command lines load");
    config
}

// A renamed command answers only to its new name, a disabled one to none,
// and COMMAND shows the table as Redis does (the old name, one fewer when
// disabled).
#[test]
fn rename_command_moves_and_disables() {
    let plain_count = {
        let mut t = TestNode::new();
        let c = t.connect();
        t.cmd(c, &["COMMAND", "COUNT"])
    };
    let config = renamed("rename-command set myset\nrename-command flushall \"\"\n");
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["SET", "a", "b"]),
        "-ERR unknown command 'SET', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(t.cmd(c, &["MYSET", "a", "b"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "a"]), "$1\r\nb\r\n");
    assert_eq!(
        t.cmd(c, &["FLUSHALL"]),
        "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n"
    );
    let plain: i64 = plain_count.trim_start_matches(':').trim().parse().unwrap();
    assert_eq!(
        t.cmd(c, &["COMMAND", "COUNT"]),
        format!(":{}\r\n", plain - 1)
    );
    assert_eq!(t.cmd(c, &["COMMAND", "INFO", "set"]), "*1\r\n$-1\r\n");
    assert!(t
        .cmd(c, &["COMMAND", "INFO", "myset"])
        .starts_with("*1\r\n*10\r\n$3\r\nset\r\n"));
    let list = t.cmd(c, &["COMMAND", "LIST"]);
    assert!(list.contains("\r\n$3\r\nset\r\n") && !list.contains("flushall"));
    assert_eq!(
        t.cmd(c, &["COMMAND", "GETKEYS", "set", "k", "v"]),
        "-ERR Invalid command specified\r\n"
    );
}

// Scripts and MULTI look commands up through the renames too.
#[test]
fn rename_command_in_scripts_and_multi() {
    let mut t = TestNode::with_config(renamed("rename-command set myset\n"));
    let c = t.connect();
    let refused = t.cmd(c, &["EVAL", "return redis.call('set','x','y')", "0"]);
    assert!(
        refused.starts_with("-ERR Unknown Redis command called from script"),
        "{refused}"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", "return redis.call('myset','x','y')", "0"]),
        "+OK\r\n"
    );
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert!(t
        .cmd(c, &["SET", "a", "b"])
        .starts_with("-ERR unknown command 'SET'"));
    assert_eq!(t.cmd(c, &["MYSET", "a", "b"]), "+QUEUED\r\n");
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["MYSET", "a", "b"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n+OK\r\n");
}

// Start-up errors in Redis's words; renames chain and may not collide.
#[test]
fn rename_command_errors() {
    let mut config = redoubt_core::Config::default();
    let error = config
        .apply_file_text("port 7000\nrename-command foo bar\n")
        .unwrap_err();
    assert_eq!(
        (error.line, error.reason.as_str()),
        (2, "No such command in rename-command")
    );
    let error = config.apply_file_text("rename-command set\n").unwrap_err();
    assert_eq!(error.reason, "Bad directive or wrong number of arguments");
    let error = config
        .apply_file_text("rename-command set get\n")
        .unwrap_err();
    assert_eq!(error.reason, "Target command name already exists");
    let mut config = renamed("rename-command set a\nrename-command a b\nrename-command b set\n");
    assert_eq!(config.renamed_commands.len(), 1);
    let error = config.apply_file_text("rename-command a c\n").unwrap_err();
    assert_eq!(error.reason, "No such command in rename-command");
    // rename-command is no CONFIG GET/SET directive.
    assert!(config.matching(b"rename*").is_empty());
    assert!(config.set("rename-command", "get x").is_err());
}

fn client_from(peer: &str, local: &str) -> redoubt_core::ConnInfo {
    redoubt_core::ConnInfo {
        peer_addr: peer.to_string(),
        local_addr: local.to_string(),
        fd: 9,
    }
}

// enable-protected-configs/-debug-command/-module-command: no, yes, or
// local (loopback and Unix socket only); immutable at run time.
#[test]
fn protected_actions() {
    use redoubt_core::config::ProtectedAction;
    let loopback = client_from("127.0.0.1:5000", "127.0.0.1:6379");
    let loopback6 = client_from("[::1]:5000", "[::1]:6379");
    let unix = client_from("/tmp/redis.sock:0", "/tmp/redis.sock:0");
    let remote = client_from("10.1.2.3:5000", "10.0.0.1:6379");
    let mut config = redoubt_core::Config::default();
    for who in [&loopback, &unix, &remote] {
        assert!(!config.allows(ProtectedAction::DebugCommand, who));
    }
    config
        .apply_file_text("enable-debug-command local\nenable-module-command yes\n")
        .unwrap();
    assert!(config.allows(ProtectedAction::DebugCommand, &loopback));
    assert!(config.allows(ProtectedAction::DebugCommand, &loopback6));
    assert!(config.allows(ProtectedAction::DebugCommand, &unix));
    assert!(!config.allows(ProtectedAction::DebugCommand, &remote));
    assert!(config.allows(ProtectedAction::ModuleCommand, &remote));
    assert!(!config.allows(ProtectedAction::Configs, &loopback));
    assert_eq!(
        config.set("enable-debug-command", "yes").unwrap_err().0,
        "can't set immutable config"
    );
    assert!(config
        .apply_file_text("enable-debug-command maybe\n")
        .is_err());
    assert_eq!(
        ProtectedAction::DebugCommand.refusal(),
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
         you can run it from a local connection, otherwise you need to set this option in the \
         configuration file, and then restart the server."
    );
}

// CONFIG SET of a protected directive is refused unless allowed.
#[test]
fn protected_configs_refused() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "dir", "/tmp"]),
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "dbfilename", "x.rdb"]),
        "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config\r\n"
    );
    let mut config = redoubt_core::Config::default();
    config
        .apply_file_text("enable-protected-configs local\n")
        .unwrap();
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "dbfilename", "x.rdb"]),
        "+OK\r\n"
    );
}

// Protected mode refuses non-loopback TCP clients while no password is set.
#[test]
fn protected_mode_decision() {
    let remote = client_from("10.1.2.3:5000", "10.0.0.1:6379");
    let mapped = client_from("[::ffff:127.0.0.1]:5000", "[::ffff:127.0.0.1]:6379");
    let loopback = client_from("127.0.0.1:5000", "127.0.0.1:6379");
    let unix = client_from("redis.sock:0", "redis.sock:0");
    let mut config = redoubt_core::Config::default();
    assert!(config.protected_mode_refuses(&remote));
    assert!(config.protected_mode_refuses(&mapped));
    assert!(!config.protected_mode_refuses(&loopback));
    assert!(!config.protected_mode_refuses(&unix));
    config.set("requirepass", "secret").unwrap();
    assert!(!config.protected_mode_refuses(&remote));
    let mut config = redoubt_core::Config::default();
    config.set("protected-mode", "no").unwrap();
    assert!(!config.protected_mode_refuses(&remote));
    assert!(redoubt_core::config::PROTECTED_MODE_DENIED.starts_with(
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."
    ));
    assert!(redoubt_core::config::PROTECTED_MODE_DENIED.ends_with("from the outside.\r\n"));
}

// CLIENT LIST names a Unix-socket client by its path, flag U.
#[test]
fn client_list_unix_socket() {
    let mut t = TestNode::new();
    let c = t
        .node
        .on_accept(client_from("/tmp/r.sock:0", "/tmp/r.sock:0"));
    let list = t.cmd(c, &["CLIENT", "LIST"]);
    assert!(
        list.contains(" addr=/tmp/r.sock:0 laddr=/tmp/r.sock:0 fd=9 ")
            && list.contains(" flags=U "),
        "{list}"
    );
}

// CONFIG REWRITE without a config file: Redis's error.
#[test]
fn config_rewrite_without_file() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
}

// The rewrite keeps comments, unknown and file-only lines, rewrites lines
// in place, blanks leftovers, and appends the rest after the signature.
#[test]
fn config_rewrite_text() {
    use redoubt_core::config::rewrite::rewrite;
    let old = "# top\nport 7000\nrename-command set myset\nsave 900 1\nsave 300 10\n\nslaveof 127.0.0.1 9999\n\nmaxmemory 100mb\nclient-output-buffer-limit normal 0 0 0\npidfile /tmp/x.pid\nhz 10\n";
    let mut config = redoubt_core::Config::default();
    config.launch_dir = "/srv".to_string();
    config.apply_file_text(old).unwrap();
    config.repl.replicaof = None;
    config.set("save", "100 1").unwrap();
    config.set("maxmemory", "3gb").unwrap();
    config
        .set("client-output-buffer-limit", "pubsub 1mb 2mb 3")
        .unwrap();
    config.set("masterauth", "p w").unwrap();
    let unknown = format!("{old}bogus-directive 1\n");
    let text = rewrite(&config, &unknown);
    assert_eq!(
        text,
        "# top\nport 7000\nrename-command set myset\nsave 100 1\n\nmaxmemory 3gb\n\
         client-output-buffer-limit normal 0 0 0\npidfile \"/tmp/x.pid\"\nhz 10\n\
         # ??? bogus-directive 1\n\n# Generated by CONFIG REWRITE\nmasterauth \"p w\"\n\
         client-output-buffer-limit pubsub 1mb 2mb 3\ndir \"/srv\"\n\
         latency-tracking-info-percentiles 50 99 99.9\n"
    );
    // A second rewrite finds the signature and adds no other. (As in Redis,
    // the replica class then takes the old pubsub line in place, and the
    // pubsub class goes to the end: lines are reused in order.)
    let again = rewrite(&config, &text);
    assert_eq!(again.matches("# Generated by CONFIG REWRITE").count(), 1);
    assert!(again.ends_with(
        "client-output-buffer-limit replica 256mb 64mb 60\ndir \"/srv\"\n\
         latency-tracking-info-percentiles 50 99 99.9\n\nclient-output-buffer-limit pubsub 1mb 2mb 3\n"
    ), "{again}");
    // No file yet: only what differs from the defaults.
    let fresh = rewrite(&redoubt_core::Config::default(), "");
    assert!(
        fresh.starts_with("# Generated by CONFIG REWRITE\n"),
        "{fresh}"
    );
    // save "" keeps the defaults from returning.
    config.set("save", "").unwrap();
    assert!(rewrite(&config, &text).contains("\nsave \"\"\n"));
}

// replicaof takes the old slaveof line in place, and goes when a master.
#[test]
fn config_rewrite_replicaof() {
    use redoubt_core::config::rewrite::rewrite;
    let old = "port 7000\nslaveof 10.0.0.1 6379\n";
    let mut config = redoubt_core::Config::default();
    config.apply_file_text(old).unwrap();
    config.repl.replicaof = Some(("10.0.0.2".to_string(), 6380));
    let text = rewrite(&config, old);
    assert!(
        text.starts_with("port 7000\nreplicaof 10.0.0.2 6380\n\n# Generated by CONFIG REWRITE\n"),
        "{text}"
    );
    config.repl.replicaof = None;
    assert!(rewrite(&config, old).starts_with("port 7000\n\n# Generated"));
}
