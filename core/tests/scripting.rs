//! Lua scripting: EVAL and EVALSHA, SCRIPT, the redis.* API, Redis's type
//! conversions both ways, the sandbox, and effects replication. Replies
//! are compared byte for byte with what Redis 7.0 answers.

use redoubt_core::testing::TestNode;

fn eval(t: &mut TestNode, c: u64, script: &str, keys: &[&str], args: &[&str]) -> String {
    let numkeys = keys.len().to_string();
    let mut argv = vec!["EVAL", script, numkeys.as_str()];
    argv.extend_from_slice(keys);
    argv.extend_from_slice(args);
    t.cmd(c, &argv)
}

// Lua values come back as Redis's conversion table says.
#[test]
fn lua_values_become_replies() {
    let (mut t, c) = TestNode::with_client();
    let cases = [
        ("return 'hello'", "$5\r\nhello\r\n"),
        ("return 42", ":42\r\n"),
        ("return 3.99", ":3\r\n"),
        ("return -3.99", ":-3\r\n"),
        // As x86-64 casts a double out of range: the integer indefinite.
        ("return 9223372036854775807", ":-9223372036854775808\r\n"),
        ("return 0/0", ":-9223372036854775808\r\n"),
        ("return true", ":1\r\n"),
        ("return false", "$-1\r\n"),
        ("return nil", "$-1\r\n"),
        (
            "return {1, 2, 'three', {4}}",
            "*4\r\n:1\r\n:2\r\n$5\r\nthree\r\n*1\r\n:4\r\n",
        ),
        ("return {1, nil, 3}", "*1\r\n:1\r\n"),
        ("return {ok='FINE'}", "+FINE\r\n"),
        ("return {err='MY failure'}", "-MY failure\r\n"),
        ("return redis.status_reply('DONE')", "+DONE\r\n"),
        ("return redis.error_reply('My Error')", "-My Error\r\n"),
        ("return redis.error_reply('oops')", "-ERR oops\r\n"),
        (
            "return redis.error_reply('-WRONG type here')",
            "-WRONG type here\r\n",
        ),
        ("return {double=3.5}", "$3\r\n3.5\r\n"),
    ];
    for (script, reply) in cases {
        assert_eq!(eval(&mut t, c, script, &[], &[]), reply, "{script}");
    }
}

// KEYS and ARGV carry the arguments; redis.call returns replies as Lua
// values (nil as false, statuses as tables).
#[test]
fn redis_call_reads_and_writes() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(
        eval(
            &mut t,
            c,
            "return redis.call('SET', KEYS[1], ARGV[1])",
            &["k"],
            &["v"]
        ),
        "+OK\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        eval(
            &mut t,
            c,
            "return {KEYS[1], KEYS[2], ARGV[1]}",
            &["a", "b"],
            &["x"]
        ),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "return type(redis.call('GET', 'missing'))",
            &[],
            &[]
        ),
        "$7\r\nboolean\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return redis.call('SET', 'k', 'v').ok", &[], &[]),
        "$2\r\nOK\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "redis.call('RPUSH', 'l', 1, 2.5, 'x'); return redis.call('LRANGE', 'l', 0, -1)",
            &[],
            &[]
        ),
        "*3\r\n$1\r\n1\r\n$3\r\n2.5\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return redis.call('INCRBY', 'n', 0.1 + 0.2)", &[], &[]),
        "-ERR value is not an integer or out of range script: 2a3f2f0b4dd2f0f0d0a6e21efba6e02e3cbc11e3, on @user_script:1.\r\n"
            .replace("2a3f2f0b4dd2f0f0d0a6e21efba6e02e3cbc11e3", &sha1("return redis.call('INCRBY', 'n', 0.1 + 0.2)"))
    );
}

fn sha1(text: &str) -> String {
    redoubt_core::script::sha1_hex(text.as_bytes())
}

// Errors: a command's error raised by redis.call, returned by pcall; Lua
// errors with their place; compile errors.
#[test]
fn errors_name_the_script_and_line() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["SET", "s", "text"]);
    let script = "return redis.call('INCR', 's')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!(
            "-ERR value is not an integer or out of range script: {}, on @user_script:1.\r\n",
            sha1(script)
        )
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "local r = redis.pcall('INCR', 's'); return r['err']",
            &[],
            &[]
        ),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return redis.pcall('INCR', 's')", &[], &[]),
        "-ERR value is not an integer or out of range\r\n"
    );
    let script = "local a = 1\nerror('boom')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!(
            "-ERR user_script:2: boom script: {}, on @user_script:2.\r\n",
            sha1(script)
        )
    );
    let script = "return undefined_thing";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-ERR user_script:1: Script attempted to access nonexistent global variable 'undefined_thing' script: {}, on @user_script:1.\r\n", sha1(script))
    );
    let script = "x = 5";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.\r\n", sha1(script))
    );
    let script = "redis.call = function() return 1 end";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.\r\n", sha1(script))
    );
    assert_eq!(
        eval(&mut t, c, "return 'unfinished", &[], &[]),
        "-ERR Error compiling script (new function): user_script:1: unfinished string near '<eof>'\r\n"
    );
    let script = "return redis.call('NOSUCH')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!(
            "-ERR Unknown Redis command called from script script: {}, on @user_script:1.\r\n",
            sha1(script)
        )
    );
    let script = "return redis.call('GET')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-ERR Wrong number of args calling Redis command from script script: {}, on @user_script:1.\r\n", sha1(script))
    );
    let script = "return redis.call('MULTI')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!(
            "-ERR This Redis command is not allowed from script script: {}, on @user_script:1.\r\n",
            sha1(script)
        )
    );
    let script = "return pcall(redis.call, 'INCR', 's')";
    assert_eq!(eval(&mut t, c, script, &[], &[]), "$-1\r\n");
    let script = "local ok, e = pcall(redis.call, 'INCR', 's'); return e";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
}

// EVAL's own argument checks, EVALSHA, SCRIPT LOAD/EXISTS/FLUSH.
#[test]
fn the_script_cache() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(
        t.cmd(c, &["EVAL", "return 1", "2", "k"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", "return 1", "-1"]),
        "-ERR Number of keys can't be negative\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", "return 1", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    let sha = sha1("return ARGV[1]");
    assert_eq!(
        t.cmd(c, &["EVALSHA", &sha, "0", "a"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SCRIPT", "LOAD", "return ARGV[1]"]),
        format!("$40\r\n{sha}\r\n")
    );
    assert_eq!(t.cmd(c, &["EVALSHA", &sha, "0", "a"]), "$1\r\na\r\n");
    assert_eq!(
        t.cmd(c, &["EVALSHA", &sha.to_uppercase(), "0", "b"]),
        "$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SCRIPT", "EXISTS", &sha, "nope"]),
        "*2\r\n:1\r\n:0\r\n"
    );
    assert_eq!(t.cmd(c, &["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SCRIPT", "EXISTS", &sha]), "*1\r\n:0\r\n");
    assert_eq!(
        t.cmd(c, &["SCRIPT", "FLUSH", "LATER"]),
        "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SCRIPT", "LOAD", "return +"]),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'\r\n"
    );
}

// Shebang flags: no-writes scripts may not write; _RO commands refuse
// write scripts; bad shebangs are refused.
#[test]
fn shebang_flags_and_read_only_calls() {
    let (mut t, c) = TestNode::with_client();
    let script = "#!lua flags=no-writes\nreturn redis.call('SET', 'k', 'v')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:2.\r\n", sha1(script))
    );
    assert_eq!(
        t.cmd(c, &["EVAL_RO", "#!lua\nreturn 1", "0"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    let script = "return redis.call('DEL', 'k')";
    assert_eq!(
        t.cmd(c, &["EVAL_RO", script, "0"]),
        format!("-ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.\r\n", sha1(script))
    );
    assert_eq!(
        t.cmd(c, &["EVAL_RO", "return redis.call('GET', 'k')", "0"]),
        "$-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", "#!lua flags=sometimes\nreturn 1", "0"]),
        "-ERR Unexpected flag in script shebang: sometimes\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", "#!python\nreturn 1", "0"]),
        "-ERR Unexpected engine in script shebang: #!python\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", "#!lua", "0"]),
        "-ERR Invalid script shebang\r\n"
    );
}

// The libraries scripts in the wild use.
#[test]
fn cjson_cmsgpack_bit_and_sha1hex() {
    let (mut t, c) = TestNode::with_client();
    let cases = [
        (
            "return cjson.encode({1, 2, 'a/b'})",
            "$12\r\n[1,2,\"a\\/b\"]\r\n",
        ),
        ("return cjson.encode({x=1.5})", "$9\r\n{\"x\":1.5}\r\n"),
        ("return cjson.decode('[1,2,{\"a\":3}]')[3].a", ":3\r\n"),
        (
            "return cjson.decode('{\"a\":null}').a == cjson.null and 1 or 0",
            ":1\r\n",
        ),
        (
            "return cmsgpack.unpack(cmsgpack.pack({1, 'two', {3}}))[2]",
            "$3\r\ntwo\r\n",
        ),
        ("return #cmsgpack.pack(300)", ":3\r\n"),
        ("return bit.band(0xff, 0x0f)", ":15\r\n"),
        ("return bit.tohex(255)", "$8\r\n000000ff\r\n"),
        ("return bit.bxor(5, 3)", ":6\r\n"),
        ("return bit.lshift(1, 31)", ":-2147483648\r\n"),
        (
            "return redis.sha1hex('')",
            "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n",
        ),
        ("return redis.REDIS_VERSION", "$6\r\n7.0.15\r\n"),
        ("return redis.REDIS_VERSION_NUM", ":458767\r\n"),
        ("return tostring(math.random() < 1)", "$4\r\ntrue\r\n"),
        (
            "local t = {} for i = 1, 100 do local r = math.random(3) t[r] = true end return #t",
            ":3\r\n",
        ),
    ];
    for (script, reply) in cases {
        assert_eq!(eval(&mut t, c, script, &[], &[]), reply, "{script}");
    }
}

// RESP3 inside a script: redis.setresp(3) gives maps, sets, doubles and
// nulls as Lua tables and nil, and they go back to a RESP3 caller whole.
#[test]
fn resp3_conversions() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["HSET", "h", "f", "v"]);
    t.cmd(c, &["ZADD", "z", "1.5", "m"]);
    assert_eq!(
        eval(
            &mut t,
            c,
            "redis.setresp(3); return redis.call('HGETALL', 'h').map.f",
            &[],
            &[]
        ),
        "$1\r\nv\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "redis.setresp(3); return redis.call('ZSCORE', 'z', 'm').double * 2",
            &[],
            &[]
        ),
        ":3\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "redis.setresp(3); return redis.call('GET', 'nope') == nil",
            &[],
            &[]
        ),
        ":1\r\n"
    );
    assert!(t.cmd(c, &["HELLO", "3"]).starts_with('%'));
    assert_eq!(
        eval(
            &mut t,
            c,
            "redis.setresp(3); return redis.call('HGETALL', 'h')",
            &[],
            &[]
        ),
        "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "redis.setresp(3); return true", &[], &[]),
        "#t\r\n"
    );
    assert_eq!(eval(&mut t, c, "return false", &[], &[]), "_\r\n");
    assert_eq!(
        eval(&mut t, c, "redis.setresp(4)", &[], &[]),
        format!(
            "-ERR RESP version must be 2 or 3. script: {}, on @user_script:1.\r\n",
            sha1("redis.setresp(4)")
        )
    );
}

// A SELECT inside a script moves only the script's database.
#[test]
fn select_inside_a_script_stays_inside() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["SET", "k", "db0"]);
    assert_eq!(
        eval(
            &mut t,
            c,
            "redis.call('SELECT', 1); redis.call('SET', 'k', 'db1'); return redis.call('GET', 'k')",
            &[],
            &[]
        ),
        "$3\r\ndb1\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "k"]), "$3\r\ndb0\r\n");
}

const LIBRARY: &str = "#!lua name=mylib\nredis.register_function('knockknock', function() return 'Who\\'s there?' end)\nredis.register_function{function_name='setget', callback=function(keys, args) redis.call('SET', keys[1], args[1]) return redis.call('GET', keys[1]) end, description='sets and gets'}\nredis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";

// FUNCTION LOAD registers a library's functions; FCALL calls them with
// their keys and arguments; FCALL_RO refuses functions that may write.
#[test]
fn functions_load_and_call() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["FUNCTION", "LOAD", LIBRARY]), "$5\r\nmylib\r\n");
    assert_eq!(
        t.cmd(c, &["FCALL", "knockknock", "0"]),
        "$12\r\nWho's there?\r\n"
    );
    assert_eq!(t.cmd(c, &["FCALL", "setget", "1", "k", "v"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["FCALL_RO", "peek", "1", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        t.cmd(c, &["FCALL_RO", "setget", "1", "k", "w"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FCALL", "nosuch", "0"]),
        "-ERR Function not found\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FCALL", "setget", "3", "k"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LOAD", LIBRARY]),
        "-ERR Library 'mylib' already exists\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LOAD", "REPLACE", LIBRARY]),
        "$5\r\nmylib\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=other\nredis.register_function('peek', function() return 1 end)"
            ]
        ),
        "-ERR Function peek already exists\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LOAD", "return 1"]),
        "-ERR Missing library metadata\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LOAD", "#!lua name=empty\nlocal a = 1"]),
        "-ERR No functions registered\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LOAD", "#!lua name=bad-name\nlocal a = 1"]),
        "-ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=broken\nredis.register_function('f', function() return 1 end"
            ]
        ),
        "-ERR Error compiling function: user_function:2: ')' expected near '<eof>'\r\n"
    );
    // A script error inside a function names the function.
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LOAD", "#!lua name=failing\nredis.register_function('fails', function()\n  return redis.call('INCR', 'k')\nend)"]),
        "$7\r\nfailing\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FCALL", "fails", "0"]),
        "-ERR value is not an integer or out of range script: fails, on @user_function:3.\r\n"
    );
    // While a library loads, its globals are the library API alone.
    let reply = t.cmd(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=early\nreturn redis.call('PING')",
        ],
    );
    assert!(
        reply.contains("nonexistent global variable 'call'"),
        "{reply}"
    );
    let reply = t.cmd(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=early\nlocal r = math.random()",
        ],
    );
    assert!(
        reply.contains("nonexistent global variable 'math'"),
        "{reply}"
    );
    let reply = t.cmd(
        c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=early\nredis.register_function(1, 2)",
        ],
    );
    assert_eq!(reply, "-ERR Error registering functions: ERR first argument to redis.register_function must be a string\r\n");
    assert_eq!(t.cmd(c, &["FUNCTION", "DELETE", "failing"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["FUNCTION", "DELETE", "failing"]),
        "-ERR Library not found\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FCALL", "fails", "0"]),
        "-ERR Function not found\r\n"
    );
}

// FUNCTION LIST shows each library's functions with their descriptions
// and flags, and the code when asked; FUNCTION STATS counts them.
#[test]
fn function_list_and_stats() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["FUNCTION", "LOAD", LIBRARY]);
    let listed = t.cmd(c, &["FUNCTION", "LIST"]);
    assert_eq!(
        listed,
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*3\r\n\
         *6\r\n$4\r\nname\r\n$10\r\nknockknock\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n\
         *6\r\n$4\r\nname\r\n$4\r\npeek\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*1\r\n$9\r\nno-writes\r\n\
         *6\r\n$4\r\nname\r\n$6\r\nsetget\r\n$11\r\ndescription\r\n$13\r\nsets and gets\r\n$5\r\nflags\r\n*0\r\n"
    );
    let with_code = t.cmd(c, &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"]);
    assert!(with_code.starts_with("*1\r\n*8\r\n"), "{with_code}");
    assert!(with_code.ends_with(&format!(
        "$12\r\nlibrary_code\r\n${}\r\n{LIBRARY}\r\n",
        LIBRARY.len()
    )));
    assert_eq!(
        t.cmd(c, &["FUNCTION", "LIST", "LIBRARYNAME", "x*"]),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "STATS"]),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:3\r\n"
    );
}

// FUNCTION DUMP and RESTORE carry the libraries; RESTORE's policies.
#[test]
fn function_dump_and_restore() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["FUNCTION", "LOAD", LIBRARY]);
    let reply = t.raw(c, b"*2\r\n$8\r\nFUNCTION\r\n$4\r\nDUMP\r\n");
    let header_end = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let payload = reply[header_end + 2..reply.len() - 2].to_vec();
    assert_eq!(payload[0], 0xF5, "a FUNCTION2 record");
    assert_eq!(t.cmd(c, &["FUNCTION", "FLUSH"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["FCALL", "knockknock", "0"]),
        "-ERR Function not found\r\n"
    );
    let restore = |t: &mut TestNode, policy: Option<&str>| {
        let mut argv: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &payload];
        if let Some(policy) = policy {
            argv.push(policy.as_bytes());
        }
        let mut request = format!("*{}\r\n", argv.len()).into_bytes();
        for arg in argv {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        String::from_utf8_lossy(&t.raw(c, &request)).into_owned()
    };
    assert_eq!(restore(&mut t, None), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["FCALL", "knockknock", "0"]),
        "$12\r\nWho's there?\r\n"
    );
    assert_eq!(
        restore(&mut t, None),
        "-ERR Library 'mylib' already exists\r\n"
    );
    assert_eq!(restore(&mut t, Some("REPLACE")), "+OK\r\n");
    assert_eq!(restore(&mut t, Some("FLUSH")), "+OK\r\n");
    assert_eq!(
        restore(&mut t, Some("SOMETIMES")),
        "-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["FUNCTION", "RESTORE", "garbage"]),
        "-ERR payload version or checksum are wrong\r\n"
    );
    // SCRIPT FLUSH leaves functions; FLUSHALL too.
    t.cmd(c, &["SCRIPT", "FLUSH"]);
    t.cmd(c, &["FLUSHALL"]);
    assert_eq!(
        t.cmd(c, &["FCALL", "knockknock", "0"]),
        "$12\r\nWho's there?\r\n"
    );
}

fn request(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

fn busy_node() -> TestNode {
    let mut config = redoubt_core::config::Config::default();
    config.set("busy-reply-threshold", "0").unwrap();
    TestNode::with_config(config)
}

// A busy script answers other clients with BUSY, and SCRIPT KILL stops it
// (even inside the script's own pcall); the killer gets OK at once.
#[test]
fn script_kill_stops_a_busy_script() {
    let mut t = busy_node();
    let (c1, c2) = (t.connect(), t.connect());
    let mut arrived = request(&["GET", "k"]);
    arrived.extend(request(&["FUNCTION", "KILL"]));
    arrived.extend(request(&["SCRIPT", "KILL"]));
    t.node.env_mut().busy_input.push((c2, arrived));
    let script = "while true do pcall(function() while true do end end) end";
    assert_eq!(
        eval(&mut t, c1, script, &[], &[]),
        "-ERR Script killed by user with SCRIPT KILL...\r\n"
    );
    assert_eq!(
        t.take_sent(c2),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n\
         -BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n+OK\r\n"
    );
    assert!(t
        .node
        .env_mut()
        .logs
        .iter()
        .any(|(_, line)| line.starts_with("Slow script detected: still in execution after")));
    assert_eq!(t.cmd(c2, &["PING"]), "+PONG\r\n");
}

// A busy script that wrote cannot be killed; it runs to its end.
#[test]
fn a_script_that_wrote_is_unkillable() {
    let mut t = busy_node();
    let (c1, c2) = (t.connect(), t.connect());
    t.node
        .env_mut()
        .busy_input
        .push((c2, request(&["SCRIPT", "KILL"])));
    let script = "redis.call('SET', 'k', 'v') for i = 1, 300000 do end return 'done'";
    assert_eq!(eval(&mut t, c1, script, &[], &[]), "$4\r\ndone\r\n");
    assert_eq!(
        t.take_sent(c2),
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    assert_eq!(t.cmd(c2, &["GET", "k"]), "$1\r\nv\r\n");
}

// A busy function is stopped by FUNCTION KILL, not SCRIPT KILL, and
// FUNCTION STATS names it meanwhile; FCALL finds a function in any case.
#[test]
fn function_kill_stops_a_busy_function() {
    let mut t = busy_node();
    let (c1, c2) = (t.connect(), t.connect());
    t.cmd(
        c1,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
        ],
    );
    let mut arrived = request(&["SCRIPT", "KILL"]);
    arrived.extend(request(&["FUNCTION", "STATS"]));
    arrived.extend(request(&["FUNCTION", "KILL"]));
    t.node.env_mut().busy_input.push((c2, arrived));
    assert_eq!(
        t.cmd(c1, &["FCALL", "SPIN", "0"]),
        "-ERR Script killed by user with FUNCTION KILL...\r\n"
    );
    assert_eq!(
        t.take_sent(c2),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n\
         *4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nSPIN\r\n$1\r\n0\r\n\
         $11\r\nduration_ms\r\n:0\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n+OK\r\n"
    );
    assert_eq!(
        t.cmd(c1, &["FCALL", "spin", "x"]),
        "-ERR Bad number of keys provided\r\n"
    );
}

// The sandbox holds against the tricks Redis's suite tries: metatables of
// protected tables, rawset, code loaded by the script, binary chunks; and
// a C-function call takes as many arguments as Lua allows.
#[test]
fn the_sandbox_holds() {
    let (mut t, c) = TestNode::with_client();
    for script in [
        "setmetatable(_G, {})",
        "local g = getmetatable(_G) g.__index = {}",
        "rawset(_G, 'x', 1)",
        "loadstring('y = 1')()",
        "getfenv(0).z = 1",
        "string.rep = nil",
        "redis = function() return 1 end",
    ] {
        let reply = eval(&mut t, c, script, &[], &[]);
        assert!(
            reply.contains("Attempt to modify a readonly table"),
            "{script}: {reply}"
        );
    }
    let reply = eval(
        &mut t,
        c,
        "return loadstring(string.dump(function() return 1 end))()",
        &[],
        &[],
    );
    assert!(reply.contains("attempt to call a nil value"), "{reply}");
    assert_eq!(
        eval(&mut t, c, "local a = {} for i = 1, 7999 do a[i] = 1 end return redis.call('LPUSH', 'l', unpack(a))", &[], &[]),
        ":7999\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "local o, v = cmsgpack.unpack_one(cmsgpack.pack(1, 2), 0) return {o, v}",
            &[],
            &[]
        ),
        "*2\r\n:1\r\n:1\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "cjson.encode_max_depth(1) local ok = pcall(cjson.encode, {{1}}) cjson.encode_max_depth(1000) return ok", &[], &[]),
        "$-1\r\n"
    );
}

// An error raised by a library function reads as Lua would print it,
// with where the script called it.
#[test]
fn library_errors_read_as_lua_prints_them() {
    let (mut t, c) = TestNode::with_client();
    let script = "return redis.sha1hex()";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!(
            "-ERR wrong number of arguments script: {}, on @user_script:1.\r\n",
            sha1(script)
        )
    );
    let script = "return bit.band()";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-ERR bad argument #1 to 'band' (number expected, got no value) script: {}, on @user_script:1.\r\n", sha1(script))
    );
}

// SORT BY a constant orders a set's elements inside a script, as Redis
// does, so that a script's result does not depend on the set's layout.
#[test]
fn sort_by_constant_is_ordered_in_scripts() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["SADD", "s", "c", "a", "b", "aa"]);
    assert_eq!(
        eval(
            &mut t,
            c,
            "return redis.call('SORT', KEYS[1], 'BY', '_')",
            &["s"],
            &[]
        ),
        "*4\r\n$1\r\na\r\n$2\r\naa\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
}

// Over maxmemory (noeviction), a script is refused its first denyoom
// write, and one with flags must declare allow-oom (or no-writes) to run.
#[test]
fn scripts_over_maxmemory() {
    let mut config = redoubt_core::config::Config::default();
    config.set("maxmemory", "1").unwrap();
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    let script = "return redis.call('SET', 'x', 'y')";
    assert_eq!(
        eval(&mut t, c, script, &[], &[]),
        format!("-OOM command not allowed when used memory > 'maxmemory'. script: {}, on @user_script:1.\r\n", sha1(script))
    );
    assert_eq!(
        eval(&mut t, c, "#!lua\nreturn 1", &[], &[]),
        "-OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "#!lua flags=allow-oom\nreturn redis.call('SET', 'x', 'y')",
            &[],
            &[]
        ),
        "+OK\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "#!lua flags=no-writes\nreturn redis.call('GET', 'x')",
            &[],
            &[]
        ),
        "$1\r\ny\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return redis.call('DEL', 'x')", &[], &[]),
        ":1\r\n"
    );
}

// While a script is busy, MULTI still opens a transaction (Redis flags it
// allow-busy), a refused command dooms it, and an EXEC ends it.
#[test]
fn transactions_meet_a_busy_script() {
    let mut t = busy_node();
    let (c1, c2, c3) = (t.connect(), t.connect(), t.connect());
    t.cmd(c3, &["MULTI"]);
    t.cmd(c3, &["INCR", "xx"]);
    let mut arrived = request(&["MULTI"]);
    arrived.extend(request(&["INCR", "xx"]));
    arrived.extend(request(&["SCRIPT", "KILL"]));
    t.node.env_mut().busy_input.push((c2, arrived));
    t.node.env_mut().busy_input.push((c3, request(&["EXEC"])));
    assert_eq!(
        eval(&mut t, c1, "while true do end", &[], &[]),
        "-ERR Script killed by user with SCRIPT KILL...\r\n"
    );
    let busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(t.take_sent(c2), format!("+OK\r\n{busy}+OK\r\n"));
    assert_eq!(
        t.take_sent(c3),
        format!(
            "-EXECABORT Transaction discarded because of: {}",
            &busy[1..]
        )
    );
    assert_eq!(t.cmd(c2, &["INCR", "xx"]), "+QUEUED\r\n");
    assert_eq!(
        t.cmd(c2, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(t.cmd(c3, &["GET", "xx"]), "$-1\r\n");
}

// With DEBUG SET-DISABLE-DENY-SCRIPTS 1 a script may call DEBUG (Redis's
// suite does, for its protocol samples); a RESP3 attribute is read and
// not shown to the script, which gets the reply that follows it.
#[test]
fn scripts_read_past_resp3_attributes() {
    let mut config = redoubt_core::config::Config::default();
    config.apply_startup("enable-debug-command", "yes").unwrap();
    let mut t = redoubt_core::testing::TestNode::with_config(config);
    let c = t.connect();
    let script = "redis.setresp(3);return redis.call('debug', 'protocol', 'attrib')";
    assert!(t
        .cmd(c, &["EVAL", script, "0"])
        .starts_with("-ERR This Redis command is not allowed from script"));
    assert_eq!(
        t.cmd(c, &["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EVAL", script, "0"]),
        "$39\r\nSome real reply following the attribute\r\n"
    );
}
