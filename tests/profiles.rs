//! `:profile` and `:region` in the console: it connects again in place, against two moto
//! servers reached through two profiles of one AWS config (each profile's own endpoint and
//! keys), and lists each one's Things. The AWS config is found through the environment
//! (`AWS_CONFIG_FILE`), which a test may not change in its own process: the test starts the
//! servers, writes the config and runs the console part in a child process of this binary,
//! with that environment.

mod support;

use iotfleet::fleet::{ConnectionSettings, FleetClient};
use iotfleet::tui::state::Backend;
use iotfleet::tui::switch::Reconnect;
use iotfleet::tui::{App, Options};
use support::console::{SETTLE, keys, opened, render};

fn names(app: &App) -> Vec<String> {
    let mut names: Vec<String> = app
        .state
        .fleet
        .things
        .items
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    names.sort();
    names
}

async fn seed(endpoint: &str, names: &[&str]) {
    let iot = aws_sdk_iot::Client::new(&support::Target::moto(endpoint).sdk_config().await);
    for name in names {
        support::seed::thing(&iot, name, None, &[]).await;
    }
}

/// The child's environment names the two servers and the config.
const ALPHA: &str = "IOTFLEET_TEST_ALPHA";
const BETA: &str = "IOTFLEET_TEST_BETA";

#[tokio::test]
async fn profile_switches_the_console_in_place_to_the_other_accounts_things() {
    let Some((alpha, _exclusive)) = support::moto::fresh().await else {
        return;
    };
    let Some(beta) = support::moto::separate() else {
        return;
    };
    seed(&alpha, &["alpha-pump-1", "alpha-pump-2"]).await;
    seed(
        &beta.endpoint,
        &["beta-camera-1", "beta-camera-2", "beta-camera-3"],
    )
    .await;

    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("aws-config");
    let credentials = home.path().join("aws-credentials");
    std::fs::write(
        &config,
        format!(
            "[profile alpha]\nregion = us-east-1\nendpoint_url = {alpha}\n\n\
             [profile beta]\nregion = us-east-1\nendpoint_url = {}\n",
            beta.endpoint
        ),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[alpha]\naws_access_key_id = alpha\naws_secret_access_key = alpha\n\
         [beta]\naws_access_key_id = beta\naws_secret_access_key = beta\n",
    )
    .unwrap();
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_console_switches_between_the_two_profiles",
            "--ignored",
            "--nocapture",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(ALPHA, &alpha)
        .env(BETA, &beta.endpoint)
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && out.contains("1 passed"),
        "{out}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

/// The console part, run by the test above in a child process with the AWS config of its two
/// profiles (ignored when run alone: it needs that environment).
#[tokio::test]
#[ignore = "run by profile_switches_the_console_in_place_to_the_other_accounts_things"]
async fn the_console_switches_between_the_two_profiles() {
    let alpha = std::env::var(ALPHA).expect("run by the test above");
    assert!(std::env::var(BETA).is_ok() && std::env::var("AWS_ACCESS_KEY_ID").is_err());
    let settings = ConnectionSettings {
        profile: Some("alpha".into()),
        ..ConnectionSettings::default()
    };
    let client = FleetClient::connect(&settings)
        .await
        .expect("profile alpha connects");
    let info = client.backend().clone();
    assert_eq!(
        info.endpoint_url.as_deref(),
        Some(alpha.as_str()),
        "the profile's endpoint"
    );
    let options = Options {
        reconnect: Some(Reconnect {
            settings,
            traffic: iotfleet::fleet::traffic::TrafficOptions::default(),
        }),
        ..Options::new(Backend::Aws {
            region: info.region.clone(),
            profile: Some("alpha".into()),
            endpoint: info.endpoint_url.clone(),
        })
    };
    let loaded = iotfleet::config::files::load_from(None, None, None, false);
    let mut app = opened(client, options, loaded, SETTLE).await;
    assert_eq!(names(&app), ["alpha-pump-1", "alpha-pump-2"]);
    let screen = render(&app, 120, 40);
    assert!(
        screen
            .lines()
            .next()
            .unwrap()
            .contains("AWS 123456789012 us-east-1 · profile alpha"),
        "{screen}"
    );

    // Tab offers the config's profiles; a name it lacks is refused, naming those it has.
    keys(&mut app, &[":", "profile b", "<Tab>"]).await;
    assert_eq!(
        app.state.input.as_ref().map(|i| i.text.as_str()),
        Some("profile beta")
    );
    keys(&mut app, &["<C-u>", "profile gamma", "<Enter>"]).await;
    let said = app
        .state
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert_eq!(said, "no AWS profile 'gamma': known: alpha, beta");
    assert_eq!(
        names(&app),
        ["alpha-pump-1", "alpha-pump-2"],
        "nothing switched"
    );

    keys(&mut app, &["<C-u>", "profile beta", "<Enter>"]).await;
    assert!(app.state.switching.is_none());
    assert_eq!(
        names(&app),
        ["beta-camera-1", "beta-camera-2", "beta-camera-3"],
        "the other moto's Things, through the other profile"
    );
    let screen = render(&app, 120, 40);
    assert!(
        screen.lines().next().unwrap().contains("profile beta"),
        "{screen}"
    );

    // And back, by region this time on the same profile: beta's moto has nothing there.
    keys(&mut app, &[":", "region eu-west-1", "<Enter>"]).await;
    assert!(names(&app).is_empty(), "{:?}", names(&app));
    assert!(
        render(&app, 120, 40)
            .lines()
            .next()
            .unwrap()
            .contains("eu-west-1 · profile beta")
    );
    keys(&mut app, &[":", "profile alpha", "<Enter>"]).await;
    assert_eq!(names(&app), ["alpha-pump-1", "alpha-pump-2"]);
}
