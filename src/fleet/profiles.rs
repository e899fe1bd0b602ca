//! The AWS profiles and regions the console can switch to (`:profile`, `:region`): profile
//! names from the shared config and credentials files, found as the AWS CLI finds them
//! (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/`), and AWS IoT Core's regions.

use std::path::PathBuf;

/// The regions AWS IoT Core runs in (and the profiles' own, added when read).
pub const IOT_REGIONS: [&str; 22] = [
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
];

/// What the shared files name: every profile, and every region a profile sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profiles {
    pub names: Vec<String>,
    pub regions: Vec<String>,
}

impl Profiles {
    /// Reads the shared config and credentials files; a missing file names nothing.
    #[must_use]
    pub fn read() -> Self {
        let read = |path: Option<PathBuf>| {
            path.and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
        };
        Self::parse(
            &read(shared_file("AWS_CONFIG_FILE", "config")),
            &read(shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")),
        )
    }

    /// From the files' text: `[default]` and `[profile NAME]` in the config file, `[NAME]` in
    /// the credentials file; `region = R` under a profile.
    #[must_use]
    pub fn parse(config: &str, credentials: &str) -> Self {
        let mut names = Vec::new();
        let mut regions: Vec<String> = IOT_REGIONS.iter().map(|r| (*r).to_owned()).collect();
        let mut in_profile = false;
        for line in config.lines().map(str::trim) {
            if let Some(section) = section(line) {
                let name = match section.split_once(char::is_whitespace) {
                    Some(("profile", name)) => Some(name.trim()),
                    None if section == "default" => Some("default"),
                    _ => None,
                };
                in_profile = name.is_some();
                names.extend(name.map(str::to_owned));
            } else if in_profile
                && let Some(("region", value)) = line
                    .split_once('=')
                    .map(|(key, value)| (key.trim(), value.trim()))
                && !value.is_empty()
            {
                regions.push(value.to_owned());
            }
        }
        names.extend(
            credentials
                .lines()
                .filter_map(|l| section(l.trim()))
                .map(str::to_owned),
        );
        names.sort();
        names.dedup();
        regions.sort();
        regions.dedup();
        Self { names, regions }
    }
}

/// The profile a connection's credentials come from, as the header names it: the one chosen
/// (`--profile`, `AWS_PROFILE`, `:profile`), else "default"; None when keys in the environment
/// (`AWS_ACCESS_KEY_ID`) are set, as the SDK's chain takes them first, before any profile.
#[must_use]
pub fn in_use(chosen: Option<&str>) -> Option<String> {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    Some(chosen.unwrap_or("default").to_owned())
}

/// `[NAME]` on a line of its own (comments start with `#` or `;`).
fn section(line: &str) -> Option<&str> {
    line.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

/// `$VAR`, else `~/.aws/NAME`.
fn shared_file(var: &str, name: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".aws").join(name)))
}

/// Whether `text` is shaped as an AWS region name (`eu-west-1`, `us-gov-west-1`): letters and
/// digits in dash-separated parts, ending with a number.
#[must_use]
pub fn looks_like_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_come_from_both_files_and_regions_from_the_profiles() {
        let config = "[default]\nregion = eu-west-1\n\n[profile prod]\nregion=ap-south-2\n\
                      output = json\n[sso-session corp]\nregion = us-gov-west-1\n";
        let credentials = "[default]\naws_access_key_id = x\n[ci]\n";
        let profiles = Profiles::parse(config, credentials);
        assert_eq!(profiles.names, ["ci", "default", "prod"]);
        assert!(profiles.regions.contains(&"ap-south-2".to_owned()));
        assert!(
            !profiles.regions.contains(&"us-gov-west-1".to_owned()),
            "an sso-session is not a profile"
        );
    }

    #[test]
    fn a_region_has_the_shape_of_one() {
        assert!(looks_like_region("eu-west-1"));
        assert!(looks_like_region("us-gov-west-1"));
        assert!(!looks_like_region("eu-west"));
        assert!(!looks_like_region("EU-west-1"));
        assert!(!looks_like_region("eu west 1"));
    }
}
