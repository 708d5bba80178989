//! `--target-flags FILE`: our `serve` flags in the spelling of the target under test.
//!
//! Here: reading the TOML map (`"--read-timeout" = "--timeout {}"`, `{}` is the
//! value; a flag without a value maps to words without `{}`) and translating a
//! transcript's `server` flags, or saying which flag has no mapping.
//! Elsewhere: starting the target with them (`grading::target::start`).

use std::collections::BTreeMap;
use std::path::Path;

/// Our flag → the target's words, `{}` standing for the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagMap(BTreeMap<String, String>);

impl FlagMap {
    /// Reads a TOML file of `"--ours" = "--theirs {}"` pairs.
    pub fn load(path: &Path) -> Result<FlagMap, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        FlagMap::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<FlagMap, String> {
        let map: BTreeMap<String, String> =
            toml::from_str(text).map_err(|e| e.message().to_string())?;
        if let Some(bad) = map.keys().find(|k| !k.starts_with("--")) {
            return Err(format!(
                "{bad:?}: keys are our serve flags, such as \"--max-body\""
            ));
        }
        Ok(FlagMap(map))
    }

    /// `flags` (as in a `server` line) in the target's spelling; `Err` names the
    /// first flag the map lacks, as a skip reason.
    pub fn translate(&self, flags: &[String]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (flag, value) in split_flags(flags) {
            let Some(theirs) = self.0.get(flag) else {
                return Err(format!("needs {flag}, not in the target's flag map"));
            };
            for word in theirs.split_whitespace() {
                match value {
                    Some(v) => out.push(word.replace("{}", v)),
                    None if word.contains("{}") => {
                        return Err(format!("{flag} has no value but the map gives it {{}}"));
                    }
                    None => out.push(word.to_string()),
                }
            }
        }
        Ok(out)
    }
}

/// `--flag value`, `--flag=value` and `--flag` pairs; a value is a word that is
/// not itself a flag.
fn split_flags(flags: &[String]) -> Vec<(&str, Option<&str>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        let flag = flags[i].as_str();
        i += 1;
        if let Some((name, value)) = flag.split_once('=') {
            out.push((name, Some(value)));
        } else if let Some(value) = flags.get(i).filter(|v| !v.starts_with("--")) {
            out.push((flag, Some(value.as_str())));
            i += 1;
        } else {
            out.push((flag, None));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_are_translated_with_their_values() {
        let map = FlagMap::parse(
            "\"--read-timeout\" = \"--timeout {}\"\n\"--max-body\" = \"--max-body-bytes={}\"\n\"--auth-all\" = \"--auth-everything\"\n",
        )
        .unwrap();
        assert_eq!(
            map.translate(&words("--auth-all --read-timeout 0.3 --max-body=16"))
                .unwrap(),
            words("--auth-everything --timeout 0.3 --max-body-bytes=16")
        );
    }

    #[test]
    fn an_unmapped_flag_is_a_skip_reason() {
        let map = FlagMap::parse("\"--auth-all\" = \"-a\"").unwrap();
        assert_eq!(
            map.translate(&words("--max-connections 1")).unwrap_err(),
            "needs --max-connections, not in the target's flag map"
        );
    }

    #[test]
    fn bad_maps_are_refused() {
        assert!(FlagMap::parse("max-body = \"x\"").is_err());
        assert!(FlagMap::parse("\"--a\" = 3").is_err());
        assert!(
            FlagMap::parse("\"--a\" = \"--b {}\"")
                .unwrap()
                .translate(&words("--a"))
                .is_err()
        );
    }
}
