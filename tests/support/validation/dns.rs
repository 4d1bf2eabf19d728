//! A small in-process DNS server (UDP and TCP on one loopback port) answering like a recursive
//! resolver from records the test sets: CNAME chains are followed and returned with the answer.

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, Restrict,
};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

#[derive(Default)]
struct Zone {
    records: HashMap<String, Vec<RData>>,
    servfail: HashSet<String>,
}

/// Handle of a running test DNS server; records can be changed while it runs.
#[derive(Clone)]
pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
}

fn key(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    if n.ends_with('.') {
        n
    } else {
        format!("{n}.")
    }
}

impl DnsServer {
    /// Starts the server on 127.0.0.1 (UDP and TCP on the same random port).
    pub async fn start() -> Self {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
                break (udp, tcp);
            }
        };
        let server = DnsServer {
            addr: udp.local_addr().unwrap(),
            zone: Arc::default(),
        };
        let zone = server.zone.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(reply) = answer(&zone, &buf[..n]) {
                    let _ = udp.send_to(&reply, from).await;
                }
            }
        });
        let zone = server.zone.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    return;
                };
                let zone = zone.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = s.read_u16().await else { return };
                        let mut msg = vec![0u8; len as usize];
                        if s.read_exact(&mut msg).await.is_err() {
                            return;
                        }
                        let Some(reply) = answer(&zone, &msg) else {
                            return;
                        };
                        let _ = s.write_u16(reply.len() as u16).await;
                        let _ = s.write_all(&reply).await;
                    }
                });
            }
        });
        server
    }

    fn add(&self, name: &str, rdata: RData) {
        self.zone
            .lock()
            .unwrap()
            .records
            .entry(key(name))
            .or_default()
            .push(rdata);
    }

    pub fn add_a(&self, name: &str, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.add(name, RData::A(A(v4))),
            IpAddr::V6(v6) => self.add(name, RData::AAAA(AAAA(v6))),
        }
    }

    pub fn add_txt(&self, name: &str, value: &str) {
        self.add(name, RData::TXT(TXT::new(vec![value.to_string()])));
    }

    pub fn add_cname(&self, name: &str, target: &str) {
        let target = Name::from_ascii(key(target)).unwrap();
        self.add(name, RData::CNAME(CNAME(target)));
    }

    /// A CAA record from raw parts (RFC 8659 §4.1), so critical unknown tags and malformed values
    /// can be served too: `flags` 128 is the issuer-critical flag.
    pub fn add_caa(&self, name: &str, flags: u8, tag: &str, value: &str) {
        let mut wire = vec![flags, tag.len() as u8];
        wire.extend_from_slice(tag.as_bytes());
        wire.extend_from_slice(value.as_bytes());
        let mut decoder = BinDecoder::new(&wire);
        let rdata = RData::read(
            &mut decoder,
            RecordType::CAA,
            Restrict::new(wire.len() as u16),
        )
        .expect("a CAA record");
        self.add(name, rdata);
    }

    /// Forgets every record of `name`.
    pub fn clear(&self, name: &str) {
        self.zone.lock().unwrap().records.remove(&key(name));
    }

    /// Queries for `name` are answered with SERVFAIL.
    pub fn servfail(&self, name: &str) {
        self.zone.lock().unwrap().servfail.insert(key(name));
    }
}

fn answer(zone: &Mutex<Zone>, query: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_bytes(query).ok()?;
    let q = req.queries().first()?.clone();
    let mut resp = Message::new();
    resp.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(true)
        .add_query(q.clone());
    let zone = zone.lock().unwrap();
    let mut name = q.name().clone();
    let mut code = ResponseCode::NoError;
    for _ in 0..8 {
        let k = key(&name.to_ascii());
        if zone.servfail.contains(&k) {
            code = ResponseCode::ServFail;
            break;
        }
        let Some(rdatas) = zone.records.get(&k) else {
            code = ResponseCode::NXDomain;
            break;
        };
        let wanted: Vec<&RData> = rdatas
            .iter()
            .filter(|r| r.record_type() == q.query_type())
            .collect();
        if !wanted.is_empty() || q.query_type() == RecordType::CNAME {
            for r in wanted {
                resp.add_answer(Record::from_rdata(name.clone(), 1, r.clone()));
            }
            break;
        }
        match rdatas.iter().find_map(|r| match r {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        }) {
            Some(target) => {
                resp.add_answer(Record::from_rdata(
                    name.clone(),
                    1,
                    RData::CNAME(CNAME(target.clone())),
                ));
                name = target;
            }
            None => break,
        }
    }
    resp.set_response_code(code);
    resp.to_bytes().ok()
}
