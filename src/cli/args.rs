//! The command line (README "Verbs"; exit codes in ARCHITECTURE.md), as clap definitions.
//! Parsing only: no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `--version`: the package's version, the commit it was built from and the build's date (set by
/// build.rs; "unknown" outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IOTFLEET_COMMIT"),
    ", built ",
    env!("IOTFLEET_BUILD_DATE"),
    ")"
);

/// The headings the global flags are grouped under in every verb's `--help`.
const CONNECTION: &str = "Connection (AWS)";
const LOCAL: &str = "Local IoT Core";
const CONSOLE: &str = "Console";
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "iotfleet",
    version = VERSION,
    about = "A terminal fleet console for AWS IoT Core",
    long_about = "A terminal fleet console for AWS IoT Core: browse Things, certificates and policies; \
                  read and edit Device Shadows; watch live MQTT traffic; isolate compromised devices; \
                  audit the fleet. Credentials and region come from the standard AWS chain \
                  (--profile, AWS_PROFILE, AWS_REGION, SSO, environment keys).",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 refused by --read-only, \
                  6 the answer is no (audit --fail-on, thing --can), 129/143 stopped by SIGHUP/SIGTERM."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// AWS profile from ~/.aws/config (default: AWS_PROFILE, then "default").
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// AWS region (default: AWS_REGION, then the profile's region).
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "REGION")]
    pub region: Option<String>,

    /// Endpoint for every AWS API (moto, LocalStack); per service also AWS_ENDPOINT_URL_IOT and
    /// AWS_ENDPOINT_URL_IOT_DATA_PLANE.
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "URL", value_parser = parse_http_url)]
    pub endpoint_url: Option<String>,

    /// MQTT endpoint override for live traffic (mqtt://, mqtts:// or wss://).
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "URL", value_parser = parse_mqtt_url)]
    pub mqtt_url: Option<String>,

    /// Client certificate (PEM) for MQTT over mutual TLS; needs --key.
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) of --cert.
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// CA bundle (PEM) to trust for MQTT over TLS instead of the system roots.
    #[arg(long, global = true, help_heading = CONNECTION, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Run against the embedded local IoT Core instead of AWS.
    #[arg(long, global = true, help_heading = LOCAL, conflicts_with_all = ["profile", "endpoint_url"])]
    pub local: bool,

    /// The local fleet's state file (default: $XDG_DATA_HOME/iotfleet/local-fleet.json).
    #[arg(long, global = true, help_heading = LOCAL, value_name = "FILE", requires = "local")]
    pub local_state: Option<PathBuf>,

    /// Port of the local IoT Core's MQTT broker on 127.0.0.1 (default: a free one).
    #[arg(long, global = true, help_heading = LOCAL, value_name = "N", requires = "local")]
    pub mqtt_port: Option<u16>,

    #[command(flatten)]
    pub simulation: SimulationArgs,

    /// Memory budget of the console's traffic history, in MiB (default: config.toml's
    /// history_mib, else 64); the oldest messages go first, every one counted.
    #[arg(long, global = true, help_heading = CONSOLE, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub history_mib: Option<u32>,

    /// Refuse every mutation (quarantine, release, shadow update, publish).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub read_only: bool,

    /// Colour theme of the console.
    #[arg(long, global = true, help_heading = CONSOLE, value_name = "NAME")]
    pub theme: Option<String>,

    /// Keymap of the console.
    #[arg(long, global = true, help_heading = CONSOLE, value_name = "NAME")]
    pub keymap: Option<String>,

    /// Output format of the verbs: a table (fitted to a terminal's width, never cut when piped),
    /// JSON, or text: one record a line, fields separated by tabs, no header, for grep, awk, cut.
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Write the log to FILE (default: $XDG_STATE_HOME/iotfleet/iotfleet.log, else
    /// ~/.local/state/iotfleet/iotfleet.log); it is private to you and rotated past 10 MiB.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Log more: -v debug, -vv trace (IOTFLEET_LOG takes a full filter). The verbs also copy
    /// their log to stderr; the console writes it to the log file only.
    #[arg(short, long, global = true, help_heading = GLOBAL, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The local time's offset from UTC, read by `main` before any thread starts (the only
    /// time it can be read safely); the console shows times at it on `:time local`.
    #[arg(skip)]
    pub local_zone: Option<time::UtcOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console (the default when no verb is given).
    Tui,
    /// List Things.
    Things {
        /// Keep Things whose name, type or an attribute value contains TEXT (ignoring case).
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Only Things of this Thing type (filtered by the service).
        #[arg(long = "type", value_name = "TYPE")]
        thing_type: Option<String>,
        /// Only Things with this attribute value, as NAME=VALUE (filtered by the service).
        #[arg(long, value_name = "NAME=VALUE", value_parser = parse_attribute)]
        attribute: Option<(String, String)>,
        /// Only Things with every status of WORDS, separated by commas: quarantined, denied
        /// (refused in the last hour), online, offline, expiring, expired, shared, revoked,
        /// inactive. The words after the first two ask the service once per remaining Thing.
        #[arg(long, value_name = "WORDS", value_parser = crate::fleet::status::parse_list)]
        status: Option<StatusWords>,
        /// Only Things a fleet indexing query matches (SearchIndex), such as
        /// 'attributes.site:plant-north AND connectivity.connected:true'. AWS answers it where
        /// fleet indexing is on; the local IoT Core always does (README, "Fleet search").
        #[arg(long, value_name = "QUERY", conflicts_with_all = ["thing_type", "attribute"])]
        query: Option<String>,
    },
    /// Show a Thing: attributes, groups, certificates and their policies.
    Thing {
        /// The Thing's name.
        name: String,
        /// Ask the local policy engine whether the Thing may do ACTION (connect, publish,
        /// subscribe, receive) on TARGET (a topic, a topic filter, a client id).
        #[arg(long, num_args = 2, value_names = ["ACTION", "TARGET"])]
        can: Option<Vec<String>>,
    },
    /// List certificates.
    Certs,
    /// List policies.
    Policies,
    /// Show a policy: default document, versions, targets.
    Policy {
        /// The policy's name.
        name: String,
    },
    /// Read and change Device Shadows.
    #[command(subcommand)]
    Shadow(ShadowCommand),
    /// Print MQTT messages on topic filters as they arrive (NDJSON with --output json).
    Tail {
        /// Topic filters, e.g. 'devices/+/telemetry' '$aws/things/pump-1/shadow/#'.
        #[arg(required = true, value_name = "FILTER")]
        filters: Vec<String>,
        /// Stop after this many messages.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// Publish one MQTT message (refused with --read-only; recorded in the journal).
    Publish {
        /// The topic, without wildcards.
        topic: String,
        /// The payload, or @FILE to send a file's bytes.
        payload: String,
        /// 0 or 1 (AWS IoT has no QoS 2).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
        qos: u8,
    },
    /// Isolate Things: their certificates get a deny-all policy (or their own policies a
    /// deny-all default version) and their live connections are closed. The plan is shown
    /// first. Several Things (names, --query, --group, --from-file) are one batch with an id:
    /// confirmed by typing their number, resumed by running it again, undone by
    /// `release --batch ID`.
    Quarantine {
        /// The Things' names.
        #[arg(value_name = "NAME", required_unless_present_any = ["query", "group", "from_file"])]
        things: Vec<String>,
        /// Also every Thing a fleet indexing query matches (as `things --query`).
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
        /// Also every member of this Thing group.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Also every Thing named in FILE, one name a line ('#' starts a comment).
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Why, for the journal (shown with the hold wherever it is listed).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// The incident this quarantine is part of, recorded with its hold.
        #[arg(long, value_name = "ID")]
        incident: Option<String>,
        /// deny-overlay (default, or `quarantine_strategy` in config.toml) or policy-version.
        #[arg(long, value_name = "S")]
        strategy: Option<crate::fleet::quarantine::Strategy>,
        /// Also set the Thing's ACTIVE certificates INACTIVE.
        #[arg(long)]
        deactivate_certs: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Close a quarantine's hold and, once no other hold keeps the Thing isolated, undo every
    /// quarantine exactly, as the journal recorded it. NAME releases the Thing's own
    /// quarantines (those not made with a batch, or its one hold); `--batch ID` closes that
    /// batch's holds on every Thing it isolated; `--hold ID` one hold of NAME.
    Release {
        /// The Thing to release.
        #[arg(
            value_name = "NAME",
            required_unless_present = "batch",
            conflicts_with = "batch"
        )]
        thing: Option<String>,
        /// Release the Things the bulk quarantine with this id isolated.
        #[arg(long, value_name = "ID")]
        batch: Option<String>,
        /// Close this hold of NAME (as the plans and `:quarantined` name it).
        #[arg(long, value_name = "ID", requires = "thing")]
        hold: Option<String>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also release every Thing whose own open quarantine holds a certificate this one shares
        /// (without it, such a release is refused: it would free them silently).
        #[arg(long)]
        with_shared: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Audit the fleet: overly permissive policies, shared, expiring, expired, revoked or
    /// inactive certificates, Things without one, quarantines (and AWS Device Defender's findings
    /// where the account has them). Exit 0 even with findings, unless --fail-on (exit 6).
    Audit {
        /// Exit 6 when a finding is at this severity or worse: critical, high, medium, low.
        #[arg(long, value_name = "SEVERITY")]
        fail_on: Option<crate::fleet::audit::Severity>,
    },
    /// Print who AWS IoT refused (a connect, publish or subscribe its policies did not allow),
    /// from CloudWatch Logs' AWSIotLogsV2 group: oldest first, NDJSON with --output json.
    Denied {
        /// Go on printing refusals as they are logged, until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// How far back to start: 90s, 15m, 2h, 7d.
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
        since: std::time::Duration,
    },
    /// Print Device Defender Detect's active violations: the Thing, the behaviour of its
    /// security profile that it broke, the value measured against the rule, and since when
    /// (NDJSON with --output json). Exits 1 where no security profile watches anything.
    Violations {
        /// Only this Thing's violations.
        #[arg(long, value_name = "THING")]
        thing: Option<String>,
        /// Go on printing violations as they are raised and as they clear, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// Print who changed a Thing, certificate or policy: CloudTrail's events naming it (the
    /// last 90 days) and iotfleet's journal entries about it, newest first, each marked with its
    /// source (NDJSON with --output json). Exits 1, after what could be read, when CloudTrail or
    /// the journal cannot be read.
    History {
        /// A Thing name, certificate id or policy name.
        resource: String,
    },
    /// The embedded local IoT Core.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Print a shell completion script, for example
    /// `iotfleet completions bash > ~/.local/share/bash-completion/completions/iotfleet`,
    /// `iotfleet completions zsh > ~/.zfunc/_iotfleet`,
    /// `iotfleet completions fish > ~/.config/fish/completions/iotfleet.fish`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `iotfleet man | man -l -`, or save it as
    /// `~/.local/share/man/man1/iotfleet.1`.
    Man,
}

/// Status words, as `--status` takes them.
pub type StatusWords = Vec<crate::fleet::status::Word>;

/// A duration as a number and a unit: `90s`, `15m`, `2h`, `7d`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{text}' needs a unit: s, m, h or d (as in 15m)"))?;
    let (number, unit) = text.split_at(unit_at);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' does not start with a number (as in 15m)"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "'{unit}' is not a unit: use s, m, h or d (as in 15m)"
            ));
        }
    };
    match number.checked_mul(seconds) {
        Some(total) if total <= 366 * 86_400 => Ok(std::time::Duration::from_secs(total)),
        _ => Err(format!("'{text}' is more than a year")),
    }
}

/// The local fleet's simulated devices.
#[derive(Debug, Clone, Copy, Args)]
pub struct SimulationArgs {
    /// Seconds between two telemetry messages of each simulated device (local IoT Core).
    #[arg(long, global = true, help_heading = LOCAL, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_interval)]
    pub telemetry_interval: f64,

    /// Run the local IoT Core without its simulated devices.
    #[arg(long, global = true, help_heading = LOCAL)]
    pub no_simulator: bool,

    /// Make the local IoT Core throttle as AWS does: past AWS IoT Core's request rate of an
    /// API (times FACTOR, default 1) it answers ThrottlingException.
    #[arg(long, global = true, help_heading = LOCAL, value_name = "FACTOR", num_args = 0..=1,
          default_missing_value = "1", value_parser = parse_factor)]
    pub aws_quotas: Option<f64>,
}

fn parse_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(factor) if factor > 0.0 && factor <= 1000.0 => Ok(factor),
        Ok(_) => Err("must be more than 0 and at most 1000".into()),
        Err(_) => Err(format!("'{text}' is not a number")),
    }
}

fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.01..=3600.0).contains(&seconds) => Ok(seconds),
        Ok(_) => Err("must be between 0.01 and 3600 seconds".into()),
        Err(_) => Err(format!("'{text}' is not a number of seconds")),
    }
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Serve the local IoT Core headless for the aws CLI, boto3, SDKs and firmware, until Ctrl-C.
    ///
    /// The core enforces AWS IoT Core's published limits, answered with the error AWS gives:
    /// names, attributes (3 without a thing type, 50 with, values of at most 800 characters),
    /// shadow documents (8 KB, 6 levels, client token 64 bytes), and on MQTT a payload of at
    /// most 128 KB, topics of at most 256 bytes and 7 slashes, no wildcards in a PUBLISH, no
    /// QoS 2, client ids of at most 128 bytes, 50 subscriptions per connection and 100
    /// publishes a second per connection. Request rates are AWS's with --aws-quotas.
    Serve {
        /// Port of the AWS IoT REST APIs on 127.0.0.1 (0 picks a free one).
        #[arg(long, value_name = "N", default_value_t = 0)]
        http_port: u16,
        /// Port of the MQTT broker (mutual TLS) on 127.0.0.1 (0 picks a free one).
        #[arg(long, value_name = "N", default_value_t = 0)]
        mqtt_port: u16,
        #[command(flatten)]
        simulation: SimulationArgs,
        /// The fleet's state file (default: $XDG_DATA_HOME/iotfleet/local-fleet.json).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShadowCommand {
    /// Print a shadow's desired, reported and delta state with its version.
    Get {
        /// The Thing's name.
        thing: String,
        /// A named shadow; without it, the classic shadow.
        #[arg(long, value_name = "SHADOW")]
        name: Option<String>,
    },
    /// Change a shadow's desired state and print the accepted document; `null` removes a key.
    Update {
        /// The Thing's name.
        thing: String,
        /// The desired state: JSON (`{"speed":40}`), or @FILE to read it from a file.
        #[arg(long, value_name = "JSON|@FILE")]
        desired: String,
        /// A named shadow; without it, the classic shadow.
        #[arg(long, value_name = "SHADOW")]
        name: Option<String>,
        /// Apply only if the shadow is still at this version (else exit 4, nothing changed).
        #[arg(long, value_name = "V")]
        version: Option<u64>,
    },
    /// Delete a shadow (its version carries on if it is made again).
    Delete {
        /// The Thing's name.
        thing: String,
        /// A named shadow; without it, the classic shadow.
        #[arg(long, value_name = "SHADOW")]
        name: Option<String>,
        /// Really delete it.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_http_url(text: &str) -> Result<String, String> {
    parse_url(text, &["http", "https"])
}

fn parse_mqtt_url(text: &str) -> Result<String, String> {
    parse_url(text, &["mqtt", "mqtts", "wss", "ws"])
}

fn parse_url(text: &str, schemes: &[&str]) -> Result<String, String> {
    let expected = schemes
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!(
            "'{text}' is not a URL: expected one starting with {expected}"
        ));
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "scheme '{scheme}' is not supported here: expected {expected}"
        ));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("'{text}' has no host"));
    }
    Ok(text.to_owned())
}

fn parse_attribute(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!(
            "'{text}' is not NAME=VALUE (for example --attribute site=plant-2)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn endpoint_urls_need_an_http_scheme_and_host() {
        assert!(parse_http_url("http://127.0.0.1:5000").is_ok());
        assert!(
            parse_http_url("127.0.0.1:5000")
                .unwrap_err()
                .contains("not a URL")
        );
        assert!(
            parse_http_url("ftp://x")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(parse_mqtt_url("wss://a.iot.eu-west-1.amazonaws.com/mqtt").is_ok());
    }

    #[test]
    fn durations_need_a_number_and_a_unit() {
        assert_eq!(
            parse_duration("90s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert_eq!(parse_duration("2h"), Ok(std::time::Duration::from_hours(2)));
        assert!(parse_duration("15").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("5w").unwrap_err().contains("not a unit"));
        assert!(parse_duration("m").unwrap_err().contains("number"));
        assert!(
            parse_duration("400d")
                .unwrap_err()
                .contains("more than a year")
        );
    }

    #[test]
    fn local_conflicts_with_an_aws_endpoint() {
        let parsed = Cli::try_parse_from([
            "iotfleet",
            "--local",
            "--endpoint-url",
            "http://x",
            "things",
        ]);
        assert!(parsed.is_err());
    }

    #[test]
    fn global_flags_work_after_the_verb() {
        let cli = Cli::try_parse_from([
            "iotfleet",
            "things",
            "--output",
            "json",
            "--region",
            "eu-west-1",
        ])
        .unwrap();
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
    }
}
