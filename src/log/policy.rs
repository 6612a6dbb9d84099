//! Trust policies (C2SP `tlog-policy`): which logs are accepted, which witnesses are
//! known, and the quorum of cosignatures a checkpoint needs. The service reads one to
//! know whom to ask for cosignatures (`--witness-policy`); a verifier reads its own to
//! decide whether a receipt's checkpoint was witnessed enough (`aiprov verify --policy`).
//!
//! Followed at C2SP/C2SP commit `5ba5ee8` (`tlog-policy.md`): `log <vkey> [<url>]`,
//! `witness <name> <vkey> [<url>]`, `group <name> all|any|<k> <name>...`, `quorum
//! <name>|none`; names are defined before use, one namespace for witnesses and groups,
//! no duplicate keys, each name a member of a group at most once, exactly one quorum.

use std::collections::HashMap;

use super::cosignature::CosignatureVerifier;
use crate::log::checkpoint::NoteVerifier;

/// Far above the 32 logs, witnesses and groups the specification asks every
/// implementation to support; a bound, so that a hostile file cannot cost unbounded work.
const MAX_ENTRIES: usize = 256;

/// A witness a policy names.
#[derive(Debug, Clone)]
pub struct PolicyWitness {
    pub name: String,
    pub verifier: CosignatureVerifier,
    /// Its submission prefix (`tlog-witness`), where a log sends its checkpoints.
    pub url: Option<String>,
}

/// A log a policy accepts.
#[derive(Debug, Clone)]
pub struct PolicyLog {
    pub verifier: NoteVerifier,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed `tlog-policy` file.
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None` for `quorum none`: no cosignature is needed.
    quorum: Option<Member>,
}

/// Why a policy file is refused: the line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the policy has no quorum line (use `quorum none` to require no cosignature)")]
    NoQuorum,
}

/// Which witnesses cosigned a checkpoint, and whether that meets the quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// The names (in the policy) of the witnesses whose cosignature verifies.
    pub cosigned_by: Vec<String>,
    /// Whether they satisfy the policy's quorum.
    pub quorum_met: bool,
}

impl Policy {
    /// Parses a policy file.
    ///
    /// # Errors
    /// [`PolicyError`] naming the first line that breaks the specification.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut policy = Self { logs: Vec::new(), witnesses: Vec::new(), groups: Vec::new(), quorum: None };
        let mut names: HashMap<String, Member> = HashMap::new();
        let mut quorum_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let fail = |reason: String| PolicyError::Line { line, reason };
            if let Some(c) = raw.chars().find(|c| c.is_control() && *c != '\t') {
                return Err(fail(format!("control character U+{:04X} (only tab and newline are allowed)", c as u32)));
            }
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let Some((&keyword, args)) = words.split_first() else { continue };
            if keyword.starts_with('#') {
                continue;
            }
            if policy.logs.len() + policy.witnesses.len() + policy.groups.len() >= MAX_ENTRIES {
                return Err(fail(format!("more than {MAX_ENTRIES} logs, witnesses and groups")));
            }
            match (keyword, args) {
                ("log", [vkey, rest @ ..]) if rest.len() <= 1 => {
                    let verifier = NoteVerifier::parse(vkey).map_err(|e| fail(format!("log key: {e}")))?;
                    if policy.logs.iter().any(|l| l.verifier.key() == verifier.key()) {
                        return Err(fail("a log with this public key is listed already".into()));
                    }
                    policy.logs.push(PolicyLog { verifier, url: rest.first().map(|u| (*u).to_owned()) });
                }
                ("witness", [name, vkey, rest @ ..]) if rest.len() <= 1 => {
                    define(&mut names, name, Member::Witness(policy.witnesses.len())).map_err(fail)?;
                    let verifier = CosignatureVerifier::parse(vkey).map_err(|e| fail(format!("witness key: {e}")))?;
                    if policy.witnesses.iter().any(|w| w.verifier.to_vkey_string() == verifier.to_vkey_string()) {
                        return Err(fail("a witness with this public key is listed already".into()));
                    }
                    let url = rest.first().map(|u| (*u).to_owned());
                    policy.witnesses.push(PolicyWitness { name: (*name).to_owned(), verifier, url });
                }
                ("group", [name, threshold, members @ ..]) if !members.is_empty() => {
                    let mut resolved = Vec::new();
                    for member in members {
                        let found = *names
                            .get(*member)
                            .ok_or_else(|| fail(format!("{member} is not defined on a line before this one")))?;
                        if resolved.contains(&found) {
                            return Err(fail(format!("{member} is a member twice")));
                        }
                        resolved.push(found);
                    }
                    let n = resolved.len();
                    let threshold = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k => match k.parse::<usize>() {
                            Ok(k) if (1..=n).contains(&k) && k.to_string() == *threshold => k,
                            _ => {
                                return Err(fail(format!(
                                    "the threshold {k} is not all, any, or a number from 1 to {n}"
                                )))
                            }
                        },
                    };
                    define(&mut names, name, Member::Group(policy.groups.len())).map_err(fail)?;
                    policy.groups.push(Group { name: (*name).to_owned(), threshold, members: resolved });
                }
                ("quorum", [name]) => {
                    if quorum_seen {
                        return Err(fail("a second quorum line".into()));
                    }
                    quorum_seen = true;
                    policy.quorum = match *name {
                        "none" => None,
                        name => Some(
                            *names
                                .get(name)
                                .ok_or_else(|| fail(format!("{name} is not defined on a line before this one")))?,
                        ),
                    };
                }
                ("log" | "witness" | "group" | "quorum", _) => {
                    return Err(fail(format!("a {keyword} line has the wrong number of items")));
                }
                (other, _) => return Err(fail(format!("unknown keyword {other:?}"))),
            }
        }
        if !quorum_seen {
            return Err(PolicyError::NoQuorum);
        }
        Ok(policy)
    }

    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Whether this policy accepts checkpoints signed by `log`: it lists no log (it
    /// speaks of witnesses only), or it lists this one (same name and public key).
    pub fn accepts_log(&self, log: &NoteVerifier) -> bool {
        self.logs.is_empty() || self.logs.iter().any(|l| l.verifier.to_vkey_string() == log.to_vkey_string())
    }

    /// Whether the quorum needs no cosignature at all (`quorum none`).
    pub fn needs_none(&self) -> bool {
        self.quorum.is_none()
    }

    /// Which of this policy's witnesses cosigned the signed checkpoint `note` (its log
    /// signature is checked elsewhere), and whether they meet the quorum.
    pub fn witnessed(&self, note: &str) -> Witnessed {
        let cosigned: Vec<bool> = self.witnesses.iter().map(|w| w.verifier.verify_note(note).is_ok()).collect();
        let cosigned_by =
            self.witnesses.iter().zip(&cosigned).filter(|(_, ok)| **ok).map(|(w, _)| w.name.clone()).collect();
        Witnessed { cosigned_by, quorum_met: self.quorum_met(&cosigned) }
    }

    /// Whether the witnesses marked in `cosigned` (by their place in the policy) meet
    /// the quorum.
    pub fn quorum_met(&self, cosigned: &[bool]) -> bool {
        // Groups only name what was defined before them: one pass in order settles all.
        let mut groups: Vec<bool> = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let count = group.members.iter().filter(|m| is_witnessed(**m, cosigned, &groups)).count();
            groups.push(count >= group.threshold);
        }
        self.quorum.is_none_or(|q| is_witnessed(q, cosigned, &groups))
    }

    /// The names of the groups, for messages.
    pub fn describe_quorum(&self) -> String {
        match self.quorum {
            None => "none".into(),
            Some(Member::Witness(i)) => format!("witness {}", self.witnesses[i].name),
            Some(Member::Group(i)) => {
                let g = &self.groups[i];
                format!("group {} ({} of {})", g.name, g.threshold, g.members.len())
            }
        }
    }
}

fn is_witnessed(member: Member, cosigned: &[bool], groups: &[bool]) -> bool {
    match member {
        Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
        Member::Group(i) => groups.get(i).copied().unwrap_or(false),
    }
}

fn define(names: &mut HashMap<String, Member>, name: &str, member: Member) -> Result<(), String> {
    if name == "none" {
        return Err("the name none is reserved".into());
    }
    if names.insert(name.to_owned(), member).is_some() {
        return Err(format!("the name {name} is defined twice"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::cosignature::CosignatureSigner;
    use ed25519_dalek::SigningKey;

    fn signer(name: &str, seed: u8) -> CosignatureSigner {
        CosignatureSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    fn vkey(name: &str, seed: u8) -> String {
        signer(name, seed).verifier().to_vkey_string()
    }

    const BODY: &str = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    fn note_cosigned_by(signers: &[&CosignatureSigner]) -> String {
        let mut note = format!("{BODY}\n\u{2014} example.com/log AAAAAAAA\n");
        for s in signers {
            note.push_str(&s.cosign(BODY, 1_700_000_000).unwrap());
            if !note.ends_with('\n') {
                note.push('\n');
            }
        }
        note
    }

    /// The specification's example, with keys of our own: two of the X witnesses and any
    /// one of the Y witnesses.
    #[test]
    fn the_specifications_two_level_example() {
        let mut text = String::from("# the example of tlog-policy.md\n");
        for (i, n) in ["X1", "X2", "X3", "Y1", "Y2", "Y3"].iter().enumerate() {
            text.push_str(&format!("witness {n} {}\n", vkey(&format!("{}.example", n.to_lowercase()), i as u8 + 1)));
        }
        text.push_str("group X-witnesses 2 X1 X2 X3\n\tgroup Y-witnesses any Y1 Y2 Y3  \ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n");
        let policy = Policy::parse(&text).unwrap();
        let s: Vec<CosignatureSigner> = ["x1", "x2", "x3", "y1", "y2", "y3"]
            .iter()
            .enumerate()
            .map(|(i, n)| signer(&format!("{n}.example"), i as u8 + 1))
            .collect();
        let w = policy.witnessed(&note_cosigned_by(&[&s[0], &s[2], &s[4]]));
        assert_eq!(w, Witnessed { cosigned_by: vec!["X1".into(), "X3".into(), "Y2".into()], quorum_met: true });
        assert!(!policy.witnessed(&note_cosigned_by(&[&s[0], &s[3], &s[4]])).quorum_met, "one X is not two");
        assert!(!policy.witnessed(&note_cosigned_by(&[&s[0], &s[1], &s[2]])).quorum_met, "no Y");
        // A cosignature by a key the policy does not know counts for nothing.
        let stranger = signer("x1.example", 99);
        assert!(!policy.witnessed(&note_cosigned_by(&[&stranger, &s[1], &s[3]])).quorum_met);
        assert_eq!(policy.describe_quorum(), "group X-and-Y (2 of 2)");
    }

    #[test]
    fn quorum_none_needs_nothing_and_a_single_witness_quorum_needs_it() {
        let none = Policy::parse("quorum none\n").unwrap();
        assert!(none.needs_none() && none.witnessed(&note_cosigned_by(&[])).quorum_met);
        let one = Policy::parse(&format!("witness W {}\nquorum W\n", vkey("w.example", 7))).unwrap();
        assert!(!one.witnessed(&note_cosigned_by(&[])).quorum_met);
        assert!(one.witnessed(&note_cosigned_by(&[&signer("w.example", 7)])).quorum_met);
    }

    #[test]
    fn what_the_specification_forbids_is_refused_with_its_line() {
        let w1 = vkey("a.example", 1);
        let w2 = vkey("b.example", 2);
        let cases = [
            (format!("witness A {w1}\n"), "no quorum"),
            (format!("witness A {w1}\nwitness A {w2}\nquorum A\n"), "line 2"),
            (format!("witness A {w1}\nwitness B {w1}\nquorum A\n"), "line 2"),
            (format!("witness A {w1}\ngroup G 2 A\nquorum G\n"), "line 2"),
            (format!("witness A {w1}\ngroup G 0 A\nquorum G\n"), "line 2"),
            (format!("witness A {w1}\ngroup G 01 A\nquorum G\n"), "line 2"),
            (format!("witness A {w1}\ngroup G any A A\nquorum G\n"), "line 2"),
            (format!("group G any A\nwitness A {w1}\nquorum G\n"), "line 1"),
            (format!("witness none {w1}\nquorum none\n"), "line 1"),
            (format!("witness A {w1}\nquorum A\nquorum A\n"), "line 3"),
            ("quorum B\n".to_owned(), "line 1"),
            ("frobnicate\nquorum none\n".to_owned(), "line 1"),
            ("quorum none\r\n".to_owned(), "line 1"),
            (format!("log {w1}\nquorum none\n"), "line 1"),
        ];
        for (text, expected) in cases {
            let err = Policy::parse(&text).expect_err(&text).to_string();
            assert!(
                err.contains(expected) || (expected == "no quorum" && err.contains("no quorum")),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn logs_are_listed_once_with_their_urls() {
        let log = crate::log::checkpoint::NoteSigner::new("example.com/log", SigningKey::from_bytes(&[5; 32]))
            .unwrap()
            .verifier()
            .to_vkey_string();
        let policy = Policy::parse(&format!("log {log} https://log.example/\nquorum none\n")).unwrap();
        assert_eq!(policy.logs()[0].url.as_deref(), Some("https://log.example/"));
        assert!(Policy::parse(&format!("log {log}\nlog {log}\nquorum none\n")).is_err());
    }
}
