//! The quarantine and release flows through `update`: a batch confirmed by typing its count,
//! refused read-only, and what a finished run reads again.

use crate::tui::test_support::*;

#[test]
fn q_with_marks_plans_one_batch_confirmed_by_typing_its_count() {
    use crate::fleet::quarantine::batch::{BatchPlan, BatchReport, ThingResult};
    use crate::fleet::quarantine::run::Verb;
    use crate::tui::flows::flow::{Outcome, Progress, Stage};
    let mut state = loaded(5);
    update(&mut state, Msg::Action(Action::MarkAll));
    let effects = update(&mut state, Msg::Action(Action::Quarantine));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Request(Request::PlanBulk { verb: Verb::Quarantine, things, .. })] if things.len() == 5
    ));
    // A plan of three to change (two were isolated already).
    let plan = BatchPlan {
        id: "batch-x".into(),
        verb: Verb::Quarantine,
        resumed: false,
        releases: None,
        scope: None,
        things: names(0..5),
        prepared: Vec::new(),
        unchanged: vec!["pump-0003".into(), "pump-0004".into()],
        unplanned: Vec::new(),
        certificates: 3,
        shared_certificates: Vec::new(),
        also_isolated: Vec::new(),
        warnings: Vec::new(),
        calls: BTreeMap::new(),
    };
    // Nothing to change is said, and nothing runs.
    update(&mut state, bulk_planned(plan.clone()));
    assert!(
        matches!(&state.flow.as_ref().unwrap().stage, Stage::Refused(r) if r.starts_with("nothing to quarantine"))
    );
    update(&mut state, Msg::Action(Action::Confirm));
    assert!(state.flow.is_none());

    update(&mut state, Msg::Action(Action::Quarantine));
    let mut with_work = plan;
    let prepared = crate::fleet::quarantine::run::Prepared::for_tests("pump-0000");
    with_work.prepared = vec![prepared.clone(), prepared.clone(), prepared];
    update(&mut state, bulk_planned(with_work));
    // The wrong number does not run it; digits are typed even where 1, 2, 3 are bound.
    typed(&mut state, "2x");
    assert!(update(&mut state, Msg::Action(Action::Confirm)).is_empty());
    assert!(
        state
            .message
            .as_ref()
            .unwrap()
            .text
            .starts_with("type 3 to confirm")
    );
    update(&mut state, Msg::Erase);
    update(&mut state, Msg::Typed('3'));
    // Confirmed, it asks why (typed into every Thing's hold) before it runs.
    assert!(update(&mut state, Msg::Action(Action::Confirm)).is_empty());
    typed(&mut state, "leak");
    let effects = update(&mut state, Msg::Action(Action::Confirm));
    let [Effect::Request(Request::RunBulk { plan, .. })] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(
        plan.prepared
            .iter()
            .all(|p| p.reason.as_deref() == Some("leak"))
    );
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(
            QuarantineEvent::BulkProgress {
                done: 1,
                total: 5,
                last: ThingResult {
                    thing: "pump-0000".into(),
                    outcome: "verified".into(),
                    detail: String::new(),
                },
            },
        ))),
    );
    assert!(matches!(
        state.flow.as_ref().unwrap().stage,
        Stage::Running(Progress::Batch {
            done: 1,
            total: 5,
            ..
        })
    ));
    let report = BatchReport {
        id: "batch-x".into(),
        verb: Verb::Quarantine,
        results: Vec::new(),
        seconds: 1.0,
    };
    let effects = update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(QuarantineEvent::BulkDone(
            Ok(Box::new(report)),
        )))),
    );
    assert!(effects.contains(&Effect::Request(Request::LoadQuarantined)));
    assert!(matches!(
        state.flow.as_ref().unwrap().stage,
        Stage::Finished(Outcome::Batch(_))
    ));
}

#[test]
fn read_only_refuses_a_bulk_quarantine_before_planning() {
    let mut state = State::new(Backend::Local, true, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    update(&mut state, page(0, &names(0..3), false));
    update(&mut state, Msg::Action(Action::MarkAll));
    assert!(update(&mut state, Msg::Action(Action::Quarantine)).is_empty());
    assert!(state.flow.is_none());
    assert!(
        state
            .message
            .as_ref()
            .unwrap()
            .text
            .starts_with("refused by --read-only")
    );
}

#[test]
fn a_finished_quarantine_reads_its_things_certificates_again_not_only_on_r() {
    let mut state = loaded(3);
    let id = "c".repeat(64);
    let arn = format!("arn:aws:iot:us-east-1:1:cert/{id}");
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Principals {
            thing: "pump-0001".into(),
            result: Ok(vec![arn.clone()]),
        })),
    );
    let active = crate::fleet::model::Certificate {
        id: id.clone(),
        arn,
        status: crate::fleet::model::CertificateStatus::Active,
        created: None,
        last_modified: None,
        ca_certificate_id: None,
        validity: None,
        subject: None,
        issuer: None,
        serial: None,
        pem_problem: None,
        pem: String::new(),
    };
    state
        .fleet
        .certificate_details
        .insert(id.clone(), crate::tui::data::Load::Ready(active));
    state.fleet.certificates.loaded_once = true;
    // A deactivating quarantine of pump-0001 ends (here as a batch of one).
    let effects = crate::tui::flows::quarantine::reread(&mut state, &["pump-0001".to_owned()]);
    assert!(
        effects.contains(&Effect::Request(Request::DescribeCertificate(id.clone()))),
        "the CERT column is asked again: {effects:?}"
    );
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Request(Request::ListCertificates { generation: 1 })
        )),
        "{effects:?}"
    );
    assert!(effects.contains(&Effect::Request(Request::LoadQuarantined)));
}
