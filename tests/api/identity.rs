//! Identity: sign-in, token validation, refresh rotation with reuse detection, cookies, two-factor sign-in,
//! throttling, the owner's user management, invitations, API keys and the audit trail they leave.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{
    OWNER_EMAIL, OWNER_PASSWORD, TestApp, error_code, is_postgres, keys_dir, within_a_moment,
};

const ME: &str = "{ me { id email } }";
const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { session { accessToken refreshToken user { email } } secondFactor { challenge } errors { code field message } } }";
const REFRESH: &str = "mutation($input: RefreshInput!) { refreshSession(input: $input) { session { accessToken refreshToken } errors { code } } }";
const LOGOUT: &str =
    "mutation($input: LogoutInput!) { logout(input: $input) { ok errors { code } } }";

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let body = app
        .gql_as(
            None,
            LOGIN,
            json!({ "input": { "email": email, "password": password } }),
        )
        .await;
    body["data"]["login"].clone()
}

/// Signs in and returns (access token, refresh token).
async fn signed_in(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let l = login(app, email, password).await;
    let s = &l["session"];
    assert!(s.is_object(), "sign-in failed: {l}");
    (
        s["accessToken"].as_str().unwrap_or_default().to_owned(),
        s["refreshToken"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> Value {
    app.gql_as(None, REFRESH, json!({ "input": { "refreshToken": token } }))
        .await["data"]["refreshSession"]
        .clone()
}

async fn me_code(app: &TestApp, token: &str) -> String {
    let body = app.gql_as(Some(token), ME, json!({})).await;
    if body["data"]["me"].is_object() {
        "ok".into()
    } else {
        error_code(&body).to_owned()
    }
}

/// The owner adds a member of staff with a password; returns their id.
async fn staff(app: &TestApp, email: &str, password: &str) -> String {
    let d = app
        .ok(
            "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code } } }",
            json!({ "input": { "email": email, "name": "Sam Staff", "password": password } }),
        )
        .await;
    d["createUser"]["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned()
}

async fn audit_actions(app: &TestApp) -> HashSet<String> {
    let stmt = sea_orm::Statement::from_string(
        sea_orm::ConnectionTrait::get_database_backend(&app.db.conn),
        "SELECT action FROM audit_log".to_owned(),
    );
    sea_orm::ConnectionTrait::query_all_raw(&app.db.conn, stmt)
        .await
        .expect("audit")
        .iter()
        .filter_map(|r| r.try_get::<String>("", "action").ok())
        .collect()
}

#[tokio::test]
async fn signing_in_refreshing_and_signing_out_round_trip() {
    let app = TestApp::spawn().await;
    let (access, refresh_token) = signed_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(me_code(&app, &access).await, "ok");

    let r = refresh(&app, &refresh_token).await;
    let (access2, refresh2) = (
        r["session"]["accessToken"]
            .as_str()
            .expect("new access")
            .to_owned(),
        r["session"]["refreshToken"]
            .as_str()
            .expect("new refresh")
            .to_owned(),
    );
    assert_ne!(refresh2, refresh_token, "refresh tokens rotate");
    assert_eq!(me_code(&app, &access2).await, "ok");

    let out = app
        .gql_as(
            None,
            LOGOUT,
            json!({ "input": { "refreshToken": refresh2 } }),
        )
        .await;
    assert_eq!(out["data"]["logout"]["ok"], true);
    assert_eq!(
        me_code(&app, &access2).await,
        "unauthenticated",
        "logout ends the session's access at once"
    );
    assert_eq!(
        refresh(&app, &refresh2).await["errors"][0]["code"],
        "invalid_refresh_token"
    );
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains("login") && actions.contains("logout"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_REFRESH_REUSE_GRACE_MS", "200")]).await;
    let (_, first) = signed_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let r = refresh(&app, &first).await;
    let access2 = r["session"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();
    let second = r["session"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();

    // The first token again, past the moment two tabs refreshing together would take: someone copied it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        refresh(&app, &first).await["errors"][0]["code"],
        "invalid_refresh_token"
    );
    assert_eq!(
        refresh(&app, &second).await["errors"][0]["code"],
        "invalid_refresh_token",
        "the family is revoked"
    );
    assert_eq!(me_code(&app, &access2).await, "unauthenticated");
    assert!(audit_actions(&app).await.contains("refresh_reuse_detected"));
    // Other sessions of the same user are untouched.
    assert_eq!(me_code(&app, &app.owner_token).await, "ok");
}

#[tokio::test]
async fn twenty_parallel_refreshes_of_one_token_give_exactly_one_success() {
    let app = TestApp::spawn().await;
    let (_, token) = signed_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let attempts = (0..20).map(|_| refresh(&app, &token));
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r["session"].is_object()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| !r["session"].is_object())
            .all(|r| r["errors"][0]["code"] == "invalid_refresh_token")
    );
}

/// Signs `claims` with the app's real private key and a header of the caller's choosing.
fn forge(header: &Header, claims: &Value) -> String {
    let pem = autoshop::auth::keys::read_key_dir(&keys_dir())
        .expect("keys")
        .pop()
        .expect("a key");
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem");
    jsonwebtoken::encode(header, claims, &key).expect("sign")
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_all_refused() {
    let app = TestApp::spawn().await;
    let real = jsonwebtoken::decode_header(&app.owner_token).expect("header");
    assert_eq!(real.alg, Algorithm::RS256);
    assert_eq!(real.typ.as_deref(), Some("at+jwt"));
    let payload: Value = {
        use base64::Engine as _;
        let part = app.owner_token.split('.').nth(1).expect("payload");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .expect("b64"),
        )
        .expect("json")
    };
    for claim in ["iss", "aud", "sub", "exp", "iat", "sid"] {
        assert!(payload.get(claim).is_some(), "missing {claim}");
    }
    let now = jsonwebtoken::get_current_timestamp();
    let with = |patch: Value| {
        let mut c = payload.clone();
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = real.kid.clone();

    // Control: a token we sign the same way is accepted, so the refusals below are about what changed.
    assert_eq!(me_code(&app, &forge(&header, &payload)).await, "ok");

    let mut cases: Vec<(&str, String)> = vec![
        (
            "expired",
            forge(
                &header,
                &with(json!({ "exp": now - 120, "iat": now - 1000, "nbf": now - 1000 })),
            ),
        ),
        (
            "not yet valid",
            forge(&header, &with(json!({ "nbf": now + 600 }))),
        ),
        (
            "wrong audience",
            forge(&header, &with(json!({ "aud": "someone-else" }))),
        ),
        (
            "wrong issuer",
            forge(&header, &with(json!({ "iss": "evil" }))),
        ),
        (
            "no exp",
            forge(&header, &{
                let mut c = payload.clone();
                c.as_object_mut().expect("object").remove("exp");
                c
            }),
        ),
    ];
    let mut unknown = header.clone();
    unknown.kid = Some("not-our-key".into());
    cases.push(("unknown kid", forge(&unknown, &payload)));
    let mut untyped = header.clone();
    untyped.typ = Some("JWT".into());
    cases.push(("not typed at+jwt", forge(&untyped, &payload)));
    let mut jku = header.clone();
    jku.kid = Some("attacker".into());
    jku.jku = Some("https://evil.example/jwks.json".into());
    cases.push(("jku pointing elsewhere", forge(&jku, &payload)));

    let parts: Vec<&str> = app.owner_token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with(json!({ "sub": uuid::Uuid::now_v7() }))),
        parts[2]
    );
    cases.push(("tampered payload", tampered));
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "at+jwt", "kid": real.kid })),
        parts[1]
    );
    cases.push(("alg none", none));
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let public_n = jwks["keys"][0]["n"].as_str().expect("n").to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = real.kid.clone();
    let hs_token = jsonwebtoken::encode(
        &hs,
        &payload,
        &EncodingKey::from_secret(public_n.as_bytes()),
    )
    .expect("hs256");
    cases.push(("HS256 keyed with the public key", hs_token));

    for (what, token) in cases {
        assert_eq!(
            me_code(&app, &token).await,
            "unauthenticated",
            "{what} was accepted"
        );
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_key_that_signs_access_tokens() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(res.status(), 200);
    let set: jsonwebtoken::jwk::JwkSet = res.json().await.expect("jwk set");
    let kid = jsonwebtoken::decode_header(&app.owner_token)
        .expect("header")
        .kid
        .expect("kid");
    let jwk = set.find(&kid).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
    let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
    v.set_audience(&["autoshop-api"]);
    v.set_issuer(&["autoshop"]);
    assert!(jsonwebtoken::decode::<Value>(&app.owner_token, &key, &v).is_ok());
    assert!(
        set.keys.iter().all(|k| !format!("{k:?}").contains("\"d\"")),
        "no private parts"
    );
}

#[tokio::test]
async fn unauthenticated_callers_get_nothing_but_sign_in() {
    let app = TestApp::spawn().await;
    for q in [
        "{ customers { totalCount } }",
        "{ me { id } }",
        "mutation { createCustomer(input: { name: \"X\" }) { errors { code } } }",
    ] {
        let body = app.gql_as(None, q, json!({})).await;
        assert_eq!(error_code(&body), "unauthenticated", "{q}: {body}");
        assert!(body["data"].is_null());
    }
    assert_eq!(app.count("customers").await, 0);
    let garbage = app
        .gql_as(
            Some("not-a-token"),
            "{ customers { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&garbage), "unauthenticated");
}

#[tokio::test]
async fn unknown_emails_and_wrong_passwords_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let unknown = login(&app, "nobody@shop.test", "whatever-password").await;
    let wrong = login(&app, OWNER_EMAIL, "wrong-password-123").await;
    assert_eq!(unknown["errors"], wrong["errors"]);
    assert_eq!(wrong["errors"][0]["code"], "invalid_credentials");
    assert!(wrong["session"].is_null());
    assert!(audit_actions(&app).await.contains("login_failed"));
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_and_the_backoff_lifts() {
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_AUTH_MAX_FAILURES", "3"),
        ("AUTOSHOP_AUTH_BACKOFF_MS", "400"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(
            login(&app, OWNER_EMAIL, "wrong-password-123").await["errors"][0]["code"],
            "invalid_credentials"
        );
    }
    let locked = login(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(
        locked["errors"][0]["code"], "too_many_attempts",
        "even the right password waits: {locked}"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let after = login(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert!(after["session"].is_object(), "the backoff lifted: {after}");
}

#[tokio::test]
async fn a_blocked_user_is_locked_out_at_once_and_cannot_sign_in_or_refresh() {
    let app = TestApp::spawn().await;
    let id = staff(&app, "sam@shop.test", "sams-password-1").await;
    let (access, refresh_token) = signed_in(&app, "sam@shop.test", "sams-password-1").await;
    assert_eq!(me_code(&app, &access).await, "ok");

    let blocked = app
        .ok(
            "mutation($input: RecordVersionInput!) { blockUser(input: $input) { user { status } errors { code } } }",
            json!({ "input": { "id": id, "version": 1 } }),
        )
        .await;
    assert_eq!(blocked["blockUser"]["user"]["status"], "BLOCKED");
    assert_eq!(
        me_code(&app, &access).await,
        "unauthenticated",
        "the access token stops working at once"
    );
    assert_eq!(
        refresh(&app, &refresh_token).await["errors"][0]["code"],
        "invalid_refresh_token"
    );
    assert_eq!(
        login(&app, "sam@shop.test", "sams-password-1").await["errors"][0]["code"],
        "account_blocked"
    );
}

#[tokio::test]
async fn only_the_owner_manages_users_and_nobody_blocks_themselves() {
    let app = TestApp::spawn().await;
    staff(&app, "sam@shop.test", "sams-password-1").await;
    let (sam, _) = signed_in(&app, "sam@shop.test", "sams-password-1").await;
    let body = app
        .gql_as(Some(&sam), "mutation { createUser(input: { email: \"x@shop.test\", name: \"X\" }) { errors { code } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "forbidden");
    let list = app
        .gql_as(Some(&sam), "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&list), "forbidden");

    let me = app.ok("{ me { id version } }", json!({})).await;
    let own = app
        .ok(
            "mutation($input: RecordVersionInput!) { blockUser(input: $input) { errors { code } } }",
            json!({ "input": { "id": me["me"]["id"], "version": me["me"]["version"] } }),
        )
        .await;
    assert_eq!(own["blockUser"]["errors"][0]["code"], "cannot_block_self");
    let users = app
        .ok(
            "{ users(search: \"SAM\") { totalCount edges { node { email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(users["users"]["totalCount"], 1);
}

#[tokio::test]
async fn an_invited_user_chooses_a_password_through_a_single_use_link() {
    let app = TestApp::spawn().await;
    let made = app
        .ok(
            "mutation { createUser(input: { email: \"new@shop.test\", name: \"New Hire\" }) { user { invitationPending } errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(made["createUser"]["user"]["invitationPending"], true);
    let row = app
        .sql_one("SELECT payload FROM outbox WHERE topic = 'notification.invitation'")
        .await;
    let payload: Value = row.try_get::<Value>("", "payload").expect("payload");
    let link = payload["link"].as_str().expect("link");
    let token = link.split("token=").nth(1).expect("token in link");

    let reset = "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { ok errors { code } } }";
    let short = app
        .gql_as(
            None,
            reset,
            json!({ "input": { "token": token, "newPassword": "short" } }),
        )
        .await;
    assert_eq!(
        short["data"]["resetPassword"]["errors"][0]["code"],
        "password_too_short"
    );
    let ok = app
        .gql_as(
            None,
            reset,
            json!({ "input": { "token": token, "newPassword": "a-good-password" } }),
        )
        .await;
    assert_eq!(ok["data"]["resetPassword"]["ok"], true, "{ok}");
    signed_in(&app, "new@shop.test", "a-good-password").await;
    let again = app
        .gql_as(
            None,
            reset,
            json!({ "input": { "token": token, "newPassword": "another-password" } }),
        )
        .await;
    assert_eq!(
        again["data"]["resetPassword"]["errors"][0]["code"],
        "invalid_token"
    );
}

#[tokio::test]
async fn a_password_reset_answers_the_same_for_strangers_and_revokes_sessions() {
    let app = TestApp::spawn().await;
    let ask = "mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { ok } }";
    let stranger = app
        .gql_as(
            None,
            ask,
            json!({ "input": { "email": "nobody@shop.test" } }),
        )
        .await;
    let owner = app
        .gql_as(None, ask, json!({ "input": { "email": OWNER_EMAIL } }))
        .await;
    assert_eq!(stranger["data"], owner["data"]);
    assert_eq!(
        app.count("outbox").await,
        1,
        "only the real account gets a message"
    );
    let row = app
        .sql_one("SELECT payload FROM outbox WHERE topic = 'notification.password_reset'")
        .await;
    let payload: Value = row.try_get::<Value>("", "payload").expect("payload");
    let token = payload["link"]
        .as_str()
        .and_then(|l| l.split("token=").nth(1))
        .expect("token")
        .to_owned();
    let reset = "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { ok errors { code } } }";
    let done = app
        .gql_as(
            None,
            reset,
            json!({ "input": { "token": token, "newPassword": "brand-new-password" } }),
        )
        .await;
    assert_eq!(done["data"]["resetPassword"]["ok"], true);
    assert_eq!(
        me_code(&app, &app.owner_token).await,
        "unauthenticated",
        "every session ends"
    );
    signed_in(&app, OWNER_EMAIL, "brand-new-password").await;
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_only() {
    let app = TestApp::spawn().await;
    let (here, _) = signed_in(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let change = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { ok errors { code } } }";
    let wrong = app
        .gql_as(Some(&here), change, json!({ "input": { "currentPassword": "nope-nope-nope", "newPassword": "next-password-1" } }))
        .await;
    assert_eq!(
        wrong["data"]["changePassword"]["errors"][0]["code"],
        "invalid_credentials"
    );
    let ok = app
        .gql_as(Some(&here), change, json!({ "input": { "currentPassword": OWNER_PASSWORD, "newPassword": "next-password-1" } }))
        .await;
    assert_eq!(ok["data"]["changePassword"]["ok"], true, "{ok}");
    assert_eq!(me_code(&app, &here).await, "ok");
    assert_eq!(me_code(&app, &app.owner_token).await, "unauthenticated");
}

fn current_code(secret_b32: &str) -> String {
    let secret = base32_decode(secret_b32);
    let now = chrono::Utc::now().timestamp();
    autoshop::auth::totp::code_at(&secret, autoshop::auth::totp::step_of(now))
}

fn base32_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = alphabet.iter().position(|a| *a == c).expect("base32") as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

#[tokio::test]
async fn two_factor_sign_in_works_and_a_code_cannot_be_replayed() {
    let app = TestApp::spawn().await;
    let enrol = app
        .ok(
            "mutation { enrolTwoFactor { enrolment { secret uri } errors { code } } }",
            json!({}),
        )
        .await;
    let secret = enrol["enrolTwoFactor"]["enrolment"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(base32_decode(&secret).len(), 20, "160-bit secret");
    assert!(
        enrol["enrolTwoFactor"]["enrolment"]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/"))
    );
    let stored = app
        .sql_one("SELECT totp_secret_enc FROM users WHERE email = 'owner@shop.test'")
        .await;
    let sealed: String = stored.try_get("", "totp_secret_enc").expect("sealed");
    assert!(!sealed.contains(&secret), "the secret is stored encrypted");

    let confirm = "mutation($input: ConfirmTwoFactorInput!) { confirmTwoFactor(input: $input) { recoveryCodes errors { code } } }";
    let confirmed = app
        .ok(
            confirm,
            json!({ "input": { "code": current_code(&secret) } }),
        )
        .await;
    let codes: Vec<String> =
        serde_json::from_value(confirmed["confirmTwoFactor"]["recoveryCodes"].clone())
            .expect("codes");
    assert_eq!(codes.len(), 10);

    // The code used to confirm is spent; wait for the next step so sign-in gets a fresh one.
    let first = login(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert!(
        first["session"].is_null(),
        "a password alone is not enough now"
    );
    let challenge = first["secondFactor"]["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let second = "mutation($input: SecondFactorInput!) { loginSecondFactor(input: $input) { session { accessToken } errors { code } } }";
    let replay = app
        .gql_as(
            None,
            second,
            json!({ "input": { "challenge": challenge, "code": current_code(&secret) } }),
        )
        .await;
    assert_eq!(
        replay["data"]["loginSecondFactor"]["errors"][0]["code"], "invalid_code",
        "the confirming code was spent"
    );

    let now = chrono::Utc::now().timestamp();
    tokio::time::sleep(Duration::from_secs(
        u64::try_from(30 - now.rem_euclid(30) + 1).unwrap_or(1),
    ))
    .await;
    let code = current_code(&secret);
    let signed = app
        .gql_as(
            None,
            second,
            json!({ "input": { "challenge": challenge, "code": code } }),
        )
        .await;
    let access = signed["data"]["loginSecondFactor"]["session"]["accessToken"]
        .as_str()
        .expect("signed in")
        .to_owned();
    assert_eq!(me_code(&app, &access).await, "ok");

    let again = login(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let challenge2 = again["secondFactor"]["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let replayed = app
        .gql_as(
            None,
            second,
            json!({ "input": { "challenge": challenge2, "code": code } }),
        )
        .await;
    assert_eq!(
        replayed["data"]["loginSecondFactor"]["errors"][0]["code"], "invalid_code",
        "no code works twice"
    );
    let recovered = app
        .gql_as(None, second, json!({ "input": { "challenge": challenge2, "recoveryCode": codes[0].to_lowercase() } }))
        .await;
    assert!(
        recovered["data"]["loginSecondFactor"]["session"].is_object(),
        "{recovered}"
    );
    let again = login(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let challenge3 = again["secondFactor"]["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let reused = app
        .gql_as(
            None,
            second,
            json!({ "input": { "challenge": challenge3, "recoveryCode": codes[0] } }),
        )
        .await;
    assert_eq!(
        reused["data"]["loginSecondFactor"]["errors"][0]["code"], "invalid_code",
        "recovery codes are single use"
    );

    let disable = "mutation($input: DisableTwoFactorInput!) { disableTwoFactor(input: $input) { ok errors { code } } }";
    let off = app
        .gql_as(
            Some(&access),
            disable,
            json!({ "input": { "password": OWNER_PASSWORD } }),
        )
        .await;
    assert_eq!(off["data"]["disableTwoFactor"]["ok"], true);
    assert!(login(&app, OWNER_EMAIL, OWNER_PASSWORD).await["session"].is_object());
    let actions = audit_actions(&app).await;
    for a in [
        "totp_enabled",
        "second_factor_failed",
        "recovery_code_used",
        "totp_disabled",
    ] {
        assert!(actions.contains(a), "{a} not audited: {actions:?}");
    }
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

fn cookie_pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned()
}

#[tokio::test]
async fn the_spa_signs_in_with_strict_host_only_cookies_and_refreshes_through_them() {
    let app = TestApp::spawn().await;
    let res = app
        .post_as(None, &json!({ "query": LOGIN, "variables": { "input": { "email": OWNER_EMAIL, "password": OWNER_PASSWORD, "useCookies": true } } }))
        .await;
    let cookies = set_cookies(&res);
    let body: Value = res.json().await.expect("json");
    assert!(
        body["data"]["login"]["session"]["accessToken"].is_null(),
        "no tokens in the body in cookie mode"
    );
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for c in &cookies {
        assert!(c.starts_with("__Host-"), "{c}");
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
    }
    let jar = format!(
        "{}; {}",
        cookie_pair(&cookies, "__Host-autoshop-access"),
        cookie_pair(&cookies, "__Host-autoshop-refresh")
    );
    let me = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", &jar)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("me");
    let me: Value = me.json().await.expect("json");
    assert_eq!(me["data"]["me"]["email"], OWNER_EMAIL);

    // Cross-site forms and text/plain posts carry the cookies but never reach GraphQL.
    for (ct, body) in [
        ("text/plain", format!("{{\"query\":\"{ME}\"}}")),
        (
            "application/x-www-form-urlencoded",
            "query=%7B+me+%7B+id+%7D+%7D".to_owned(),
        ),
    ] {
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("cookie", &jar)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 415, "{ct}");
    }
    let get = app
        .client
        .get(app.url("/graphql?query=%7Bme%7Bid%7D%7D"))
        .header("cookie", &jar)
        .send()
        .await
        .expect("get");
    let text = get.text().await.unwrap_or_default();
    assert!(!text.contains(OWNER_EMAIL), "no queries over GET");

    let refreshed = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", &jar)
        .json(&json!({ "query": REFRESH, "variables": { "input": { "useCookies": true } } }))
        .send()
        .await
        .expect("refresh");
    let new_cookies = set_cookies(&refreshed);
    let body: Value = refreshed.json().await.expect("json");
    assert!(
        body["data"]["refreshSession"]["session"].is_object(),
        "{body}"
    );
    assert_ne!(
        cookie_pair(&new_cookies, "__Host-autoshop-refresh"),
        cookie_pair(&cookies, "__Host-autoshop-refresh")
    );
}

#[tokio::test]
async fn cors_allows_exactly_the_configured_origins() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_CORS_ORIGINS", "https://shop.example")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://shop.example").await.expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    for other in [
        "https://evil.example",
        "https://shop.example.evil.example",
        "null",
    ] {
        let refused = preflight(other).await.expect("preflight");
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{other} allowed"
        );
    }
}

#[tokio::test]
async fn an_api_key_acts_with_its_role_until_revoked() {
    let app = TestApp::spawn().await;
    let made = app
        .ok(
            "mutation { createApiKey(input: { name: \"Accounting sync\", role: \"owner\" }) { apiKey { id prefix } secret errors { code } } }",
            json!({}),
        )
        .await;
    let secret = made["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let id = made["createApiKey"]["apiKey"]["id"].clone();
    assert!(
        secret.starts_with(
            made["createApiKey"]["apiKey"]["prefix"]
                .as_str()
                .expect("prefix")
        )
    );
    let stored = app.sql_one("SELECT key_hash FROM api_keys").await;
    let hash: String = stored.try_get("", "key_hash").expect("hash");
    assert!(!hash.contains(&secret[4..]), "only a hash is stored");

    let used = app
        .gql_as(Some(&secret), "{ customers { totalCount } }", json!({}))
        .await;
    assert!(used.get("errors").is_none(), "{used}");
    let listed = app
        .ok(
            "{ apiKeys { edges { node { name lastUsedAt } } } }",
            json!({}),
        )
        .await;
    assert!(listed["apiKeys"]["edges"][0]["node"]["lastUsedAt"].is_string());
    let unknown_role = app
        .ok("mutation { createApiKey(input: { name: \"x\", role: \"wizard\" }) { errors { code } } }", json!({}))
        .await;
    assert_eq!(
        unknown_role["createApiKey"]["errors"][0]["code"],
        "unknown_role"
    );

    app.ok(
        "mutation($input: ApiKeyIdInput!) { revokeApiKey(input: $input) { apiKey { revokedAt } errors { code } } }",
        json!({ "input": { "id": id } }),
    )
    .await;
    let after = app
        .gql_as(Some(&secret), "{ customers { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&after), "unauthenticated");
    let me = app.gql_as(Some(&secret), ME, json!({})).await;
    assert_eq!(error_code(&me), "unauthenticated");
}

#[tokio::test]
async fn the_owner_is_created_from_the_command_line_and_never_twice() {
    let dir = std::env::temp_dir().join(format!("autoshop-cli-{}", uuid::Uuid::new_v4().simple()));
    let run = |email: &str| {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_autoshop"))
            .args(["create-owner", "--email", email])
            .env_clear()
            .env("AUTOSHOP_DATA_DIR", &dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"cli-owner-password\n")
            .expect("write");
        child.wait_with_output().expect("run")
    };
    let first = run("boss@shop.test");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("boss@shop.test"));
    let second = run("other@shop.test");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already has an owner"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn production_refuses_to_start_without_its_keys() {
    let empty =
        std::env::temp_dir().join(format!("autoshop-nokeys-{}", uuid::Uuid::new_v4().simple()));
    let vars = std::collections::HashMap::from([
        ("AUTOSHOP_ENV".to_owned(), "production".to_owned()),
        ("AUTOSHOP_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("AUTOSHOP_KEYS_DIR".to_owned(), empty.display().to_string()),
        (
            "DATABASE_URL".to_owned(),
            format!(
                "sqlite://{}/db.sqlite?mode=rwc",
                std::env::temp_dir().display()
            ),
        ),
        ("AUTOSHOP_AUTO_MIGRATE".to_owned(), "false".to_owned()),
    ]);
    let settings = autoshop::Settings::from_vars(vars).expect("settings");
    let err = autoshop::auth::Auth::load(&settings)
        .await
        .expect_err("no key, no start");
    assert!(
        format!("{err:#}").contains("AUTOSHOP_JWT_PRIVATE_KEY"),
        "{err:#}"
    );
    assert!(!empty.exists(), "nothing generated in production");
}

#[tokio::test]
async fn the_owner_ends_every_session_of_a_user_at_once() {
    let app = TestApp::spawn().await;
    let id = staff(&app, "sam@shop.test", "sams-password-1").await;
    let (phone, _) = signed_in(&app, "sam@shop.test", "sams-password-1").await;
    let (laptop, laptop_refresh) = signed_in(&app, "sam@shop.test", "sams-password-1").await;
    // Used once before, so the server knows the session to be live when it ends.
    assert_eq!(me_code(&app, &phone).await, "ok");
    let done = app
        .ok(
            "mutation($input: UserIdInput!) { revokeUserSessions(input: $input) { ok errors { code } } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_eq!(done["revokeUserSessions"]["ok"], true);
    assert_eq!(me_code(&app, &phone).await, "unauthenticated");
    assert_eq!(me_code(&app, &laptop).await, "unauthenticated");
    assert_eq!(
        refresh(&app, &laptop_refresh).await["errors"][0]["code"],
        "invalid_refresh_token"
    );
    assert!(
        login(&app, "sam@shop.test", "sams-password-1").await["session"].is_object(),
        "not blocked, just signed out"
    );
    assert!(audit_actions(&app).await.contains("revoke_sessions"));
}

#[tokio::test]
async fn a_session_ended_on_one_replica_is_refused_by_the_others_at_once() {
    if !is_postgres() {
        // The embedded backend is one process; replicas share PostgreSQL and Redis.
        return;
    }
    let app = TestApp::spawn().await;
    let other = app.spawn_beside().await;
    let id = staff(&app, "sam@shop.test", "sams-password-1").await;
    let (access, _) = signed_in(&app, "sam@shop.test", "sams-password-1").await;
    // The other replica has seen the session live, and remembers it.
    assert_eq!(me_code(&other, &access).await, "ok");
    assert_eq!(me_code(&other, &access).await, "ok");
    app.ok(
        "mutation($input: UserIdInput!) { revokeUserSessions(input: $input) { ok } }",
        json!({ "input": { "id": id } }),
    )
    .await;
    assert_eq!(me_code(&app, &access).await, "unauthenticated");
    let refused =
        within_a_moment(async || me_code(&other, &access).await == "unauthenticated").await;
    assert!(refused, "the other replica still honours a revoked session");
}
