//! Input generators shared by the properties: base64url text, JSON trees, DER TLVs, PEM-like text,
//! and mutations of real encodings.

use base64::Engine;
use proptest::prelude::*;
use serde_json::Value;

/// base64url (no padding) of `data`, as JOSE writes it.
pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Standard base64 of `data`, as PEM writes it.
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Strings a parser may meet: random Unicode, base64url of random bytes, or base64url of bytes of
/// the lengths keys and signatures have (so decoding succeeds and the next step runs).
pub fn b64url_or_junk() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| b64url(&b)),
        prop::sample::select(vec![
            1usize, 3, 31, 32, 33, 48, 64, 65, 66, 96, 132, 256, 257, 1025
        ])
        .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
        .prop_map(|b| b64url(&b)),
    ]
}

/// A JSON scalar drawn mostly from `words` (the names and values the parser under test looks for).
fn scalar(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![0i64, -1, 1, i64::MIN, i64::MAX, 4294967296])
            .prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(words).prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        b64url_or_junk().prop_map(Value::from),
    ]
}

/// Any JSON value whose keys and strings are mostly `words`, nested a few levels.
pub fn json(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    scalar(words).prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((prop::sample::select(words), inner), 0..8).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A JSON object with each of `keys` present or not, holding a value from `json(words)`.
pub fn object_with(
    keys: &'static [&'static str],
    words: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    proptest::collection::vec(proptest::option::of(json(words)), keys.len()).prop_map(move |vals| {
        Value::Object(
            keys.iter()
                .zip(vals)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
        )
    })
}

/// DER `tag ‖ length ‖ content` with a correct (short or long form) length.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A tree of DER TLVs: primitive leaves with random content, constructed nodes (SEQUENCE, SET,
/// `[0]`, `[3]`) of children; sometimes a length header that lies.
pub fn der_tree() -> impl Strategy<Value = Vec<u8>> {
    let leaf = (
        prop::sample::select(vec![
            0x01u8, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x18, 0x80, 0x82, 0x87,
        ]),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(t, c)| der(t, &c));
    leaf.prop_recursive(5, 64, 6, |inner| {
        (
            prop::sample::select(vec![0x30u8, 0x31, 0xa0, 0xa1, 0xa3]),
            proptest::collection::vec(inner, 0..6),
            prop::sample::select(vec![
                None,
                None,
                None,
                Some(0x81u8),
                Some(0x84),
                Some(0x85),
                Some(0xff),
            ]),
        )
            .prop_map(|(t, kids, lie)| {
                let content = kids.concat();
                match lie {
                    None => der(t, &content),
                    Some(l) => {
                        let mut v = vec![t, l, 0xff, 0xff, 0xff, 0xff];
                        v.truncate(2 + (l & 0x7f).min(4) as usize);
                        v.extend(content);
                        v
                    }
                }
            })
    })
}

/// An edit of an encoding: flip, drop, insert or truncate at a position (taken modulo the length).
#[derive(Debug, Clone)]
pub enum Edit {
    Flip(usize, u8),
    Drop(usize),
    Insert(usize, u8),
    Truncate(usize),
}

/// A few random edits.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(p, x)| Edit::Flip(p, x)),
        any::<usize>().prop_map(Edit::Drop),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Insert(p, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    proptest::collection::vec(edit, 0..4)
}

/// `data` with `edits` applied.
pub fn mutate(data: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = data.to_vec();
    for e in edits {
        let n = v.len().max(1);
        match *e {
            Edit::Flip(p, x) if !v.is_empty() => v[p % n] ^= x,
            Edit::Drop(p) if !v.is_empty() => {
                v.remove(p % n);
            }
            Edit::Insert(p, b) => v.insert(p % (v.len() + 1), b),
            Edit::Truncate(p) => v.truncate(p % (v.len() + 1)),
            _ => {}
        }
    }
    v
}

/// PEM-like text: BEGIN/END markers with any number of dashes around them (so markers can share
/// dashes or overlap), labels, base64 runs (random or of `blobs`), well-formed blocks, whitespace
/// and stray characters, in any order.
pub fn pem_text(blobs: Vec<Vec<u8>>) -> impl Strategy<Value = String> {
    let dashes =
        || prop::sample::select(vec![0usize, 1, 4, 5, 5, 6, 9, 10]).prop_map(|n| "-".repeat(n));
    let marker = (
        dashes(),
        prop::sample::select(vec!["BEGIN ", "END ", "BEGIN", "END"]),
        prop::sample::select(vec!["CERTIFICATE", "PKCS7", "X", ""]),
        dashes(),
    )
        .prop_map(|(a, kw, label, b)| format!("{a}{kw}{label}{b}"));
    // A block: BEGIN line, maybe a body, END line; labels may differ, dashes may be missing,
    // doubled or shared between the two markers.
    let labels = || prop::sample::select(vec!["CERTIFICATE", "PKCS7", "X", ""]);
    let block = (
        labels(),
        dashes(),
        prop::sample::select(vec!["", "\n", " "]),
        prop_oneof![Just(String::new()), "[A-Za-z0-9+/=\n]{0,20}"],
        dashes(),
        prop_oneof![3 => Just(None), 1 => labels().prop_map(Some)],
        dashes(),
    )
        .prop_map(|(label, t, sep, body, lead, other, end)| {
            let end_label = other.unwrap_or(label);
            format!("-----BEGIN {label}{t}{sep}{body}{sep}{lead}END {end_label}{end}")
        });
    let fragment = prop_oneof![
        3 => block,
        2 => marker,
        2 => prop::sample::select(vec![
            "-----BEGIN ", "-----END ", "-----", "-", "CERTIFICATE", "PKCS7", "CMS",
            "CERTIFICATE REQUEST", "X", "\n", "\r\n", " ", "=", "==", "é", "\u{2028}",
        ]).prop_map(str::to_string),
        1 => "[A-Za-z0-9+/=\n]{0,40}",
        1 => prop::sample::select(blobs).prop_map(|b| b64(&b)),
        1 => (prop::sample::select(vec!["CERTIFICATE", "PKCS7", "X", ""]), "[A-Za-z0-9+/=\n]{0,40}")
            .prop_map(|(l, b)| format!("-----BEGIN {l}-----\n{b}\n-----END {l}-----\n")),
    ];
    proptest::collection::vec(fragment, 0..16).prop_map(|f| f.concat())
}
