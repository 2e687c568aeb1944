//! Sign-in mutations (public: they are how a caller gets credentials) and the signed-in user's own account:
//! `me`, password, second factor.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::caller;
use crate::auth::cookies;
use crate::auth::guard::Require;
use crate::auth::password::Password;
use crate::error::{AppError, AppResult};
use crate::schema::payload::{UserError, split};
use crate::schema::state;
use crate::schema::types::User;
use crate::services::sessions::{self, Issued, LoginOutcome};
use crate::services::users;

#[derive(Default)]
pub struct AuthQuery;

#[derive(Default)]
pub struct AuthMutation;

/// The refresh token the SPA's cookie carried, put in the request by the HTTP handler.
#[derive(Debug, Clone, Default)]
pub struct PresentedCookies {
    pub refresh: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    #[graphql(validator(max_length = 254))]
    pub email: String,
    #[graphql(validator(max_length = 1024))]
    pub password: String,
    /// Deliver the tokens as httpOnly cookies (the SPA) instead of in the response body.
    #[graphql(default)]
    pub use_cookies: bool,
}

#[derive(InputObject)]
pub struct SecondFactorInput {
    /// The challenge `login` returned.
    #[graphql(validator(max_length = 200))]
    pub challenge: String,
    /// A code from the authenticator app…
    #[graphql(validator(max_length = 20))]
    pub code: Option<String>,
    /// …or one of the recovery codes.
    #[graphql(validator(max_length = 40))]
    pub recovery_code: Option<String>,
    #[graphql(default)]
    pub use_cookies: bool,
}

#[derive(InputObject)]
pub struct RefreshInput {
    /// The refresh token; in cookie mode leave it out and the cookie is used.
    #[graphql(validator(max_length = 200))]
    pub refresh_token: Option<String>,
    #[graphql(default)]
    pub use_cookies: bool,
}

#[derive(InputObject)]
pub struct LogoutInput {
    #[graphql(validator(max_length = 200))]
    pub refresh_token: Option<String>,
}

#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    #[graphql(validator(max_length = 254))]
    pub email: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset or invitation link.
    #[graphql(validator(max_length = 200))]
    pub token: String,
    #[graphql(validator(max_length = 1024))]
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ConfirmEmailChangeInput {
    /// The token from the link sent to the new address.
    #[graphql(validator(max_length = 200))]
    pub token: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    #[graphql(validator(max_length = 1024))]
    pub current_password: String,
    #[graphql(validator(max_length = 1024))]
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ConfirmTwoFactorInput {
    #[graphql(validator(max_length = 20))]
    pub code: String,
}

#[derive(InputObject)]
pub struct DisableTwoFactorInput {
    #[graphql(validator(max_length = 1024))]
    pub password: String,
}

/// A signed-in session. In cookie mode the tokens travel as httpOnly cookies and are null here.
#[derive(SimpleObject)]
pub struct Session {
    pub access_token: Option<String>,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: Option<String>,
    pub refresh_token_expires_at: DateTime<Utc>,
    pub user: User,
}

/// The password was right; finish signing in with `loginSecondFactor` before `expiresAt`.
#[derive(SimpleObject)]
pub struct SecondFactorChallenge {
    pub challenge: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct LoginPayload {
    pub session: Option<Session>,
    pub second_factor: Option<SecondFactorChallenge>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct SessionPayload {
    pub session: Option<Session>,
    pub errors: Vec<UserError>,
}

/// A mutation that returns nothing but success or the user's errors.
#[derive(SimpleObject)]
pub struct DonePayload {
    pub ok: bool,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct TwoFactorEnrolment {
    /// Base32 secret, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://` URI, for a QR code.
    pub uri: String,
}

#[derive(SimpleObject)]
pub struct TwoFactorEnrolmentPayload {
    pub enrolment: Option<TwoFactorEnrolment>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct RecoveryCodesPayload {
    /// Single-use codes for when the phone is lost; shown only now.
    pub recovery_codes: Option<Vec<String>>,
    pub errors: Vec<UserError>,
}

pub fn done(r: AppResult<()>) -> Result<DonePayload> {
    let (ok, errors) = split(r)?;
    Ok(DonePayload {
        ok: ok.is_some(),
        errors,
    })
}

/// Maps issued tokens to the payload, setting cookies instead in cookie mode.
fn session(ctx: &Context<'_>, issued: Issued, use_cookies: bool) -> Session {
    if use_cookies {
        set_cookie(
            ctx,
            cookies::ACCESS,
            &issued.access_token,
            issued.access_expires_at,
        );
        set_cookie(
            ctx,
            cookies::REFRESH,
            &issued.refresh_token,
            issued.refresh_expires_at,
        );
    }
    Session {
        access_token: (!use_cookies).then_some(issued.access_token),
        access_token_expires_at: issued.access_expires_at,
        refresh_token: (!use_cookies).then_some(issued.refresh_token),
        refresh_token_expires_at: issued.refresh_expires_at,
        user: User::full(issued.user),
    }
}

/// A `__Host-` cookie that lives until the token it carries expires.
fn set_cookie(ctx: &Context<'_>, name: &str, value: &str, expires_at: DateTime<Utc>) {
    let secs = u64::try_from((expires_at - Utc::now()).num_seconds()).unwrap_or(0);
    ctx.append_http_header("set-cookie", cookies::set(name, value, secs));
}

fn session_payload(
    ctx: &Context<'_>,
    r: AppResult<Issued>,
    use_cookies: bool,
) -> Result<SessionPayload> {
    let (issued, errors) = split(r)?;
    Ok(SessionPayload {
        session: issued.map(|i| session(ctx, i, use_cookies)),
        errors,
    })
}

/// A signed-in session, or the challenge of a second factor.
fn login_payload(
    ctx: &Context<'_>,
    outcome: Option<LoginOutcome>,
    errors: Vec<UserError>,
    use_cookies: bool,
) -> LoginPayload {
    let mut payload = LoginPayload {
        session: None,
        second_factor: None,
        errors,
    };
    match outcome {
        Some(LoginOutcome::Signed(i)) => payload.session = Some(session(ctx, i, use_cookies)),
        Some(LoginOutcome::SecondFactor {
            challenge,
            expires_at,
        }) => {
            payload.second_factor = Some(SecondFactorChallenge {
                challenge,
                expires_at,
            })
        }
        None => {}
    }
    payload
}

fn password(field: &str, raw: &str) -> AppResult<Password> {
    Password::parse(field, raw)
}

#[Object]
impl AuthQuery {
    /// The signed-in user.
    #[graphql(guard = "Require::user()")]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let s = state(ctx);
        Ok(User::full(users::current(&s.db, &caller(ctx)).await?))
    }
}

#[Object]
impl AuthMutation {
    /// Signs in with e-mail and password. With two-factor sign-in on, returns a challenge to answer with
    /// `loginSecondFactor` instead of a session.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload> {
        let s = state(ctx);
        let r = sessions::login(&s.db, &s.auth, &caller(ctx), &input.email, &input.password).await;
        let (outcome, errors) = split(r)?;
        Ok(login_payload(ctx, outcome, errors, input.use_cookies))
    }

    /// The second step of a two-factor sign-in.
    async fn login_second_factor(
        &self,
        ctx: &Context<'_>,
        input: SecondFactorInput,
    ) -> Result<SessionPayload> {
        let s = state(ctx);
        let r = sessions::login_second_factor(
            &s.db,
            &s.auth,
            &caller(ctx),
            &input.challenge,
            input.code.as_deref(),
            input.recovery_code.as_deref(),
        )
        .await;
        session_payload(ctx, r, input.use_cookies)
    }

    /// Trades a refresh token (once) for a new access and refresh token.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshInput,
    ) -> Result<SessionPayload> {
        let s = state(ctx);
        let presented = input.refresh_token.or_else(|| {
            ctx.data_opt::<PresentedCookies>()
                .and_then(|c| c.refresh.clone())
        });
        let r = match presented {
            Some(t) => sessions::refresh(&s.db, &s.auth, &caller(ctx), &t).await,
            None => Err(AppError::invalid(
                "refreshToken",
                "invalid_refresh_token",
                "the session has ended; sign in again",
            )),
        };
        session_payload(ctx, r, input.use_cookies)
    }

    /// Ends the session (the refresh token's, or the caller's own) and clears the SPA's cookies.
    async fn logout(&self, ctx: &Context<'_>, input: LogoutInput) -> Result<DonePayload> {
        let s = state(ctx);
        let presented = input.refresh_token.or_else(|| {
            ctx.data_opt::<PresentedCookies>()
                .and_then(|c| c.refresh.clone())
        });
        ctx.append_http_header("set-cookie", cookies::clear(cookies::ACCESS));
        ctx.append_http_header("set-cookie", cookies::clear(cookies::REFRESH));
        done(sessions::logout(&s.db, &caller(ctx), presented.as_deref()).await)
    }

    /// Sends a reset link if the address belongs to someone; answers the same either way.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> Result<DonePayload> {
        let s = state(ctx);
        done(users::request_password_reset(&s.db, &s.auth, &caller(ctx), &input.email).await)
    }

    /// Chooses a new password with the token from a reset or invitation link; ends every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> Result<DonePayload> {
        let s = state(ctx);
        let r = async {
            let new = password("newPassword", &input.new_password)?;
            users::reset_password(&s.db, &s.auth, &caller(ctx), &input.token, new).await
        };
        done(r.await)
    }

    /// Makes a changed e-mail the account's address, with the token from the link sent to it; every session
    /// of the account ends.
    async fn confirm_email_change(
        &self,
        ctx: &Context<'_>,
        input: ConfirmEmailChangeInput,
    ) -> Result<DonePayload> {
        let s = state(ctx);
        let r = users::confirm_email_change(&s.db, &s.auth, &caller(ctx), &input.token).await;
        done(r.map(|_| ()))
    }

    /// Changes your password; your other sessions end.
    #[graphql(guard = "Require::user()")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> Result<DonePayload> {
        let s = state(ctx);
        let r = async {
            let new = password("newPassword", &input.new_password)?;
            users::change_password(&s.db, &s.auth, &caller(ctx), &input.current_password, new).await
        };
        done(r.await)
    }

    /// Starts two-factor enrolment: a new secret for the authenticator app, on once confirmed.
    #[graphql(guard = "Require::user()")]
    async fn enrol_two_factor(&self, ctx: &Context<'_>) -> Result<TwoFactorEnrolmentPayload> {
        let s = state(ctx);
        let (e, errors) = split(users::enrol_totp(&s.db, &s.auth, &caller(ctx)).await)?;
        Ok(TwoFactorEnrolmentPayload {
            enrolment: e.map(|e| TwoFactorEnrolment {
                secret: e.secret,
                uri: e.uri,
            }),
            errors,
        })
    }

    /// Turns two-factor sign-in on with a code from the app; returns recovery codes.
    #[graphql(guard = "Require::user()")]
    async fn confirm_two_factor(
        &self,
        ctx: &Context<'_>,
        input: ConfirmTwoFactorInput,
    ) -> Result<RecoveryCodesPayload> {
        let s = state(ctx);
        let r = users::confirm_totp(&s.db, &s.auth, &caller(ctx), &input.code).await;
        let (codes, errors) = split(r)?;
        Ok(RecoveryCodesPayload {
            recovery_codes: codes,
            errors,
        })
    }

    /// Turns two-factor sign-in off; asks for the password.
    #[graphql(guard = "Require::user()")]
    async fn disable_two_factor(
        &self,
        ctx: &Context<'_>,
        input: DisableTwoFactorInput,
    ) -> Result<DonePayload> {
        let s = state(ctx);
        done(users::disable_totp(&s.db, &s.auth, &caller(ctx), &input.password).await)
    }
}
