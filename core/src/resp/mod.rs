//! RESP, the Redis serialization protocol: parsing requests (multibulk and
//! inline, incrementally, within Redis's limits) and writing replies in RESP2
//! or RESP3 as the client negotiated with `HELLO`.

mod reply;
mod request;

pub use reply::{push_i64, Out, Protocol};
pub use request::{parse_i64, split_args, ParseLimits, ProtocolError, RequestParser};
