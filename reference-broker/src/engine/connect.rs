//! CONNECT and AUTH: version and identifier rules, authentication, will checks, limits on
//! connections and sessions, session attach or takeover, and the CONNACK.

use super::*;

/// What a CONNACK tells a 5.0 client it was granted.
struct Granted<'a> {
    client_id: &'a ByteString,
    assigned: bool,
    /// The Session Expiry Interval, when not the one asked for.
    expiry: Option<u32>,
    /// The Server Keep Alive, when not the client's.
    server_keep_alive: Option<u16>,
}

impl Engine {
    pub(super) fn handle_decode_error(
        &mut self,
        conn: ConnId,
        failure: &DecodeError,
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let err = &failure.error;
        tracing::debug!(conn = conn.0, error = %err, "decode error");
        match c.state {
            ConnState::AwaitConnect => {
                let Some(level) = failure.connect_level else {
                    self.close(conn, CloseKind::Abnormal, now);
                    return;
                };
                let (version, code) = match err {
                    CodecError::UnsupportedProtocolLevel { .. }
                    | CodecError::InvalidProtocolName
                        if level < 5 =>
                    {
                        (
                            ProtocolVersion::V3_1_1,
                            ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                        )
                    }
                    _ if level >= 5 => (ProtocolVersion::V5_0, err.reason_code()),
                    // 3.1.1 has no CONNACK code for a malformed CONNECT: close (MQTT-4.8.0-1).
                    _ => {
                        self.close(conn, CloseKind::Abnormal, now);
                        return;
                    }
                };
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.version = version;
                }
                let mut ack = ConnAck::new(false, code);
                if version.is_v5() {
                    ack.properties
                        .push(Property::ReasonString(err.to_string().into()));
                }
                self.send(conn, ack.into());
                self.close(conn, CloseKind::Abnormal, now);
            }
            ConnState::Authenticating | ConnState::CheckingPassword => {
                let code = if c.version.is_v5() {
                    err.reason_code()
                } else {
                    ReasonCode::V3_SERVER_UNAVAILABLE
                };
                self.refuse_connect(conn, code, now);
            }
            ConnState::Connected => {
                // 3.1.1 MQTT-4.8.0-1: close. 5.0 4.13: DISCONNECT with the reason code, close.
                self.send_disconnect(conn, err.disconnect_reason_code(), &err.to_string());
                self.close(conn, CloseKind::Abnormal, now);
            }
        }
    }

    pub(super) fn on_connect(&mut self, conn: ConnId, connect: Box<Connect>, now: Instant) {
        let version = connect.protocol;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.version = version;
            c.decoder.set_version(version);
            c.problem_info = connect.properties.request_problem_information() != Some(0);
            c.max_packet_size = connect.properties.maximum_packet_size().unwrap_or(u32::MAX);
        }
        if self.limits.redirect.is_some() {
            self.redirect(conn, version.is_v5(), now);
            return;
        }
        let cert_user = (self.conns.get(&conn))
            .filter(|c| c.cert_authenticated)
            .and_then(|c| c.username.clone());
        if let Some((v5_code, v3_code)) = self.connect_refusal(&connect, cert_user.as_deref()) {
            let code = if version.is_v5() { v5_code } else { v3_code };
            self.refuse_connect(conn, code, now);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.username = cert_user.or_else(|| connect.username.as_ref().map(|u| u.to_string()));
        }
        let check = (self.limits.users.as_ref())
            .filter(|_| self.conns.get(&conn).is_some_and(|c| !c.cert_authenticated))
            .and_then(|users| {
                let (user, pass) = (connect.username.as_ref()?, connect.password.as_ref()?);
                Some(users.password_check(user, pass))
            });
        match check {
            // The hash runs in the shell, off the engine's task: a flood of logins does not
            // stall every other client.
            Some(check) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.state = ConnState::CheckingPassword;
                    c.pending = Some((connect, false));
                }
                self.events.push_back(Event::CheckPassword { conn, check });
            }
            None => self.after_credentials(conn, connect, now),
        }
    }

    /// The CONNECT once its credentials are accepted: the will, enhanced authentication,
    /// then the session.
    pub(super) fn after_credentials(&mut self, conn: ConnId, connect: Box<Connect>, now: Instant) {
        let user = self.conns.get(&conn).and_then(|c| c.username.clone());
        if let Some((v5_code, v3_code)) = self.refuse_will(&connect, user.as_deref()) {
            let code = if connect.protocol.is_v5() {
                v5_code
            } else {
                v3_code
            };
            self.refuse_connect(conn, code, now);
            return;
        }
        let assigned = connect.client_id.is_empty();
        if let Some(connect) = self.start_enhanced_auth(conn, connect, assigned, now) {
            self.accept_connect(conn, connect, assigned, now);
        }
    }

    /// 5.0 4.11: CONNACK 0x9C/0x9D with a Server Reference; 3.1.1 cannot redirect and gets
    /// 0x03.
    fn redirect(&mut self, conn: ConnId, v5: bool, now: Instant) {
        let Some(redirect) = &self.limits.redirect else {
            return;
        };
        let ack = if v5 {
            let code = match redirect.kind {
                RedirectKind::UseAnotherServer => ReasonCode::USE_ANOTHER_SERVER,
                RedirectKind::ServerMoved => ReasonCode::SERVER_MOVED,
            };
            let mut ack = ConnAck::new(false, code);
            let reference = redirect.reference.as_str().into();
            ack.properties.push(Property::ServerReference(reference));
            ack
        } else {
            ConnAck::new(false, ReasonCode::V3_SERVER_UNAVAILABLE)
        };
        self.send(conn, ack.into());
        self.close(conn, CloseKind::Abnormal, now);
    }

    /// Closes the oldest connections not yet accepted until one more fits within
    /// `Limits::max_pending_connections`. The oldest, not the newest: a client that sends its
    /// CONNECT at once is accepted within moments, so a flood of silent sockets only ever
    /// pushes out its own members.
    pub(super) fn make_room_for_pending(&mut self, now: Instant) {
        while self.pending.len() >= self.limits.max_pending_connections.max(1) {
            let Some(oldest) = self.pending.pop_first() else {
                return;
            };
            self.notice
                .once("pending connections over max_pending_connections (the oldest closed)");
            self.close(oldest, CloseKind::Abnormal, now);
        }
    }

    /// Why a CONNECT is refused before any session is touched, as (5.0, 3.1.1) CONNACK codes:
    /// the connection limit, the client identifier rules, missing credentials (a certificate
    /// user needs no password, but a CONNECT user name must be the same).
    fn connect_refusal(
        &mut self,
        connect: &Connect,
        cert_user: Option<&str>,
    ) -> Option<(ReasonCode, ReasonCode)> {
        // This connection is still pending: only clients already connected count.
        let connected = self.conns.len() - self.pending.len();
        if connected >= self.limits.max_connections {
            self.notice.once("connection over max_connections");
            return Some((
                ReasonCode::QUOTA_EXCEEDED,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        let id_ok = if connect.client_id.is_empty() {
            // 3.1 requires 1 to 23 characters; 3.1.1 MQTT-3.1.3-7/8 allows an empty id only with
            // clean session; 5.0 MQTT-3.1.3-6 assigns one whatever Clean Start says.
            match connect.protocol {
                ProtocolVersion::V3_1 => false,
                ProtocolVersion::V3_1_1 => connect.clean_start,
                ProtocolVersion::V5_0 => true,
            }
        } else {
            connect.protocol != ProtocolVersion::V3_1 || connect.client_id.len() <= 23
        };
        if !id_ok {
            return Some((
                ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
                ReasonCode::V3_IDENTIFIER_REJECTED,
            ));
        }
        if let Some(user) = cert_user {
            if connect.username.as_deref().is_some_and(|name| name != user) {
                return Some((
                    ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                    ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD,
                ));
            }
        } else if self.limits.users.is_some() {
            // A user name with a password is checked by the caller, off the engine's task.
            return match (&connect.username, &connect.password) {
                (Some(_), Some(_)) => None,
                (Some(_), None) => Some((
                    ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                    ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD,
                )),
                (None, _) if self.limits.allow_anonymous => None,
                (None, _) => Some((ReasonCode::NOT_AUTHORIZED, ReasonCode::V3_NOT_AUTHORIZED)),
            };
        }
        None
    }

    /// Enhanced authentication (5.0 4.12): with an Authentication Method, sends the challenge
    /// and holds the CONNECT until the client's AUTH; without one, hands the CONNECT back.
    fn start_enhanced_auth(
        &mut self,
        conn: ConnId,
        connect: Box<Connect>,
        assigned: bool,
        now: Instant,
    ) -> Option<Box<Connect>> {
        let method = (connect.protocol.is_v5())
            .then(|| connect.properties.authentication_method())
            .flatten();
        let Some(method) = method else {
            return Some(connect);
        };
        if *method != *self.limits.auth_method {
            self.refuse_connect(conn, ReasonCode::BAD_AUTHENTICATION_METHOD, now);
            return None;
        }
        let challenge = Auth {
            reason: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: Properties::new()
                .with(Property::AuthenticationMethod(method))
                .with(Property::AuthenticationData(Bytes::from_static(
                    auth::CHALLENGE,
                ))),
        };
        self.send(conn, challenge.into());
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Authenticating;
            c.pending = Some((connect, assigned));
        }
        None
    }

    /// Why the CONNECT's will cannot be accepted, as (5.0, 3.1.1) CONNACK codes: QoS above
    /// Maximum QoS (MQTT-3.2.2-12), Will Retain without retain support (MQTT-3.2.2-13), a
    /// topic past the topic limits, or one the ACL does not let this user publish to. 3.1.1
    /// has no Maximum QoS nor Retain Available, so only the last two refuse a 3.1.1 will.
    pub(super) fn refuse_will(
        &mut self,
        connect: &Connect,
        user: Option<&str>,
    ) -> Option<(ReasonCode, ReasonCode)> {
        let will = connect.will.as_ref()?;
        let l = &self.limits;
        let v5 = connect.protocol.is_v5();
        if v5 && will.qos > l.max_qos {
            return Some((
                ReasonCode::QOS_NOT_SUPPORTED,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        if v5 && will.retain && !l.retain_available {
            return Some((
                ReasonCode::RETAIN_NOT_SUPPORTED,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        if !l.topic_fits(&will.topic) {
            self.notice
                .once("will topic over max_topic_levels or max_topic_bytes");
            return Some((
                ReasonCode::TOPIC_NAME_INVALID,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        if l.users
            .as_ref()
            .is_some_and(|u| !u.allowed(user, &will.topic, Access::Write))
        {
            return Some((ReasonCode::NOT_AUTHORIZED, ReasonCode::V3_NOT_AUTHORIZED));
        }
        None
    }

    /// A client identifier for a client that sent none (5.0 MQTT-3.1.3-6/7, 3.1.1 clean
    /// session): random, so that it cannot be guessed and taken over, and unused.
    pub(super) fn assign_client_id(&mut self) -> ByteString {
        loop {
            self.next_assigned += 1;
            let id: ByteString = match auth::random_bytes(12) {
                Some(bytes) => format!("auto-{}", auth::hex(&bytes)).into(),
                // No randomness from the system: unique, if guessable.
                None => format!("auto-{:08}", self.next_assigned).into(),
            };
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    pub(super) fn on_auth_during_connect(&mut self, conn: ConnId, a: Auth, now: Instant) {
        let Some((connect, assigned)) = self.conns.get_mut(&conn).and_then(|c| c.pending.take())
        else {
            self.close(conn, CloseKind::Abnormal, now);
            return;
        };
        if !self.auth_response_ok(&a) {
            self.refuse_connect(conn, ReasonCode::NOT_AUTHORIZED, now);
            return;
        }
        self.accept_connect(conn, connect, assigned, now);
    }

    pub(super) fn auth_response_ok(&self, a: &Auth) -> bool {
        a.reason == ReasonCode::CONTINUE_AUTHENTICATION
            && a.properties.authentication_method().as_deref() == Some(&*self.limits.auth_method)
            && a.properties.authentication_data().as_deref() == Some(auth::RESPONSE)
    }

    /// Sends CONNACK with a failure code and closes (MQTT-3.2.2-5 / 5.0 MQTT-3.2.2-7).
    pub(super) fn refuse_connect(&mut self, conn: ConnId, code: ReasonCode, now: Instant) {
        let mut ack = ConnAck::new(false, code);
        if self.version(conn).is_v5() {
            if let Some(name) = code.name() {
                ack.properties.push(Property::ReasonString(name.into()));
            }
        }
        self.send(conn, ack.into());
        self.close(conn, CloseKind::Abnormal, now);
    }

    pub(super) fn accept_connect(
        &mut self,
        conn: ConnId,
        connect: Box<Connect>,
        assigned: bool,
        now: Instant,
    ) {
        let v5 = connect.protocol.is_v5();
        let client_id: ByteString = if assigned {
            self.assign_client_id()
        } else {
            connect.client_id.clone()
        };
        let owner = self.verified_user(conn);
        if let Some((v5_code, v3_code)) = self.session_refusal(&client_id, owner.as_deref()) {
            self.refuse_connect(conn, if v5 { v5_code } else { v3_code }, now);
            return;
        }
        self.take_over(conn, &client_id, connect.clean_start, now);
        let (requested_expiry, expiry) = self.session_expiry(&connect);
        let session_present = if connect.clean_start {
            self.remove_session(&client_id);
            false
        } else {
            self.sessions.contains_key(&client_id)
        };
        let window = self.outbound_window(&connect);
        let session = self
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Box::new(Session::new(expiry, owner)));
        session.conn = Some(conn);
        session.expires_at = None;
        session.expiry_interval = expiry;
        session.window_cap = session.window_cap.max(window);
        let (keep_alive, server_keep_alive) =
            keepalive::negotiate(connect.keep_alive, self.limits.max_keep_alive);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Connected;
            c.client_id = Some(client_id.clone());
            c.will = connect.will.clone().map(Box::new);
            c.window = window;
            c.keep_alive = KeepAlive::new(keep_alive, now);
            c.connect_expiry = expiry;
            c.enhanced_auth = connect.properties.authentication_method().is_some();
        }
        self.pending.remove(&conn);
        let deadline = self.conns.get(&conn).and_then(|c| self.conn_deadline(c));
        self.timers.set(Timer::Conn(conn), deadline);
        self.timers.remove(&Timer::Session(client_id.clone()));
        let mut ack = ConnAck::new(session_present, ReasonCode::SUCCESS);
        if v5 {
            let granted = Granted {
                client_id: &client_id,
                assigned,
                expiry: (expiry != requested_expiry).then_some(expiry),
                server_keep_alive: server_keep_alive.then_some(keep_alive),
            };
            self.connack_properties(&mut ack.properties, &connect, &granted);
        }
        self.send(conn, ack.into());
        tracing::debug!(conn = conn.0, client = %client_id, version = %connect.protocol,
            session_present, "connected");
        // MQTT-4.4.0-1: resend unacknowledged PUBLISH (DUP=1) and PUBREL, in order.
        self.redeliver(&client_id, conn, now);
        self.pump(&client_id, now);
    }

    /// The user `conn`'s sessions belong to: its user name once verified (by the password
    /// file or a TLS client certificate), else nobody. An unverified name owns nothing, as
    /// anyone may claim it.
    fn verified_user(&self, conn: ConnId) -> Option<String> {
        let c = self.conns.get(&conn)?;
        let verified = c.cert_authenticated || self.limits.users.is_some();
        c.username.clone().filter(|_| verified)
    }

    /// Why `user` (verified, see `verified_user`) may not attach to `client_id`'s session,
    /// as (5.0, 3.1.1) CONNACK codes: the session belongs to another user, or it would be
    /// one session past `max_sessions`. A session of nobody (anonymous clients) is taken
    /// over by any anonymous client, as MQTT-3.1.4-2/3 say, but not by a verified user, and
    /// a verified user's session by nobody else.
    fn session_refusal(
        &mut self,
        client_id: &ByteString,
        user: Option<&str>,
    ) -> Option<(ReasonCode, ReasonCode)> {
        let existing = self.sessions.get(client_id);
        let owned_by_other = existing.is_some_and(|s| s.owner.as_deref() != user);
        if owned_by_other {
            // Another user's session: neither resumed, taken over nor discarded.
            self.notice
                .once("client id of a session owned by another user");
            return Some((ReasonCode::NOT_AUTHORIZED, ReasonCode::V3_NOT_AUTHORIZED));
        }
        if existing.is_none() && self.sessions.len() >= self.limits.max_sessions {
            self.notice.once("session over max_sessions");
            return Some((
                ReasonCode::QUOTA_EXCEEDED,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        None
    }

    /// Takeover (3.1.1 MQTT-3.1.4-2 / 5.0 MQTT-3.1.4-3): the session's connection, if
    /// another, is closed; a pending delayed will is published (Clean Start ends the session)
    /// or cancelled (MQTT-3.1.3-9).
    fn take_over(&mut self, conn: ConnId, client_id: &ByteString, clean: bool, now: Instant) {
        if let Some(old) = self.sessions.get(client_id).and_then(|s| s.conn) {
            if old != conn {
                self.send_disconnect(old, ReasonCode::SESSION_TAKEN_OVER, "session taken over");
                self.close(old, CloseKind::Takeover { clean }, now);
            }
        }
        if let Some(will) = self.wills.take(client_id) {
            if clean {
                self.publish_will(client_id, &will, now);
            }
        }
    }

    /// The Session Expiry Interval asked for and the one granted (clamped to the configured
    /// maximum in 5.0; the configured 3.1.1 expiry for a 3.1.1 persistent session).
    fn session_expiry(&self, connect: &Connect) -> (u32, u32) {
        let v5 = connect.protocol.is_v5();
        let requested = if v5 {
            connect.properties.session_expiry_interval().unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            self.limits.v3_session_expiry_interval.unwrap_or(u32::MAX)
        };
        let granted = match self.limits.max_session_expiry_interval {
            Some(max) if v5 => requested.min(max),
            _ => requested,
        };
        (requested, granted)
    }

    /// How many unacknowledged QoS 1/2 messages the client may have at once.
    fn outbound_window(&self, connect: &Connect) -> u16 {
        if connect.protocol.is_v5() {
            // Fewer than the client's Receive Maximum is lawful (MQTT-3.3.4-7 bounds it
            // from above only); the cap bounds what one session holds in flight.
            (connect.properties.receive_maximum())
                .unwrap_or(u16::MAX)
                .min(self.limits.max_inflight_messages)
                .max(1)
        } else {
            self.limits.outbound_inflight_v3.max(1)
        }
    }

    /// The 5.0 CONNACK properties: the server's limits and what it granted (3.2.2.3).
    fn connack_properties(&self, p: &mut Properties, connect: &Connect, granted: &Granted<'_>) {
        let l = &self.limits;
        if let Some(expiry) = granted.expiry {
            p.push(Property::SessionExpiryInterval(expiry));
        }
        p.push(Property::ReceiveMaximum(l.receive_maximum.max(1)));
        if l.max_qos != QoS::ExactlyOnce {
            p.push(Property::MaximumQoS(l.max_qos.as_u8()));
        }
        p.push(Property::RetainAvailable(u8::from(l.retain_available)));
        p.push(Property::MaximumPacketSize(l.max_packet_size));
        if granted.assigned {
            p.push(Property::AssignedClientIdentifier(
                granted.client_id.clone(),
            ));
        }
        p.push(Property::TopicAliasMaximum(l.topic_alias_maximum));
        let flag = u8::from;
        p.push(Property::WildcardSubscriptionAvailable(flag(
            l.wildcard_subscription_available,
        )));
        p.push(Property::SubscriptionIdentifierAvailable(flag(
            l.subscription_identifiers_available,
        )));
        p.push(Property::SharedSubscriptionAvailable(flag(
            l.shared_subscription_available,
        )));
        if let Some(keep_alive) = granted.server_keep_alive {
            p.push(Property::ServerKeepAlive(keep_alive));
        }
        if connect.properties.request_response_information() == Some(1) {
            if let Some(base) = &l.response_information {
                let info = format!("{base}{}", granted.client_id);
                p.push(Property::ResponseInformation(info.into()));
            }
        }
        if let Some(method) = connect.properties.authentication_method() {
            p.push(Property::AuthenticationMethod(method));
        }
    }

    pub(super) fn on_reauth(&mut self, conn: ConnId, a: Auth, now: Instant) {
        let method = &*self.limits.auth_method;
        // 3.15 and MQTT-4.12.0-6/7: AUTH only after a CONNECT with an Authentication Method,
        // and with the same method; the server never answers AUTH to anyone else.
        let enhanced = self.conns.get(&conn).is_some_and(|c| c.enhanced_auth);
        if !enhanced || a.properties.authentication_method().as_deref() != Some(method) {
            self.protocol_error(
                conn,
                ReasonCode::PROTOCOL_ERROR,
                "no re-authentication",
                now,
            );
            return;
        }
        let props = Properties::new().with(Property::AuthenticationMethod(method.into()));
        if a.reason == ReasonCode::RE_AUTHENTICATE {
            let challenge = Auth {
                reason: ReasonCode::CONTINUE_AUTHENTICATION,
                properties: props.with(Property::AuthenticationData(Bytes::from_static(
                    auth::CHALLENGE,
                ))),
            };
            self.send(conn, challenge.into());
        } else if self.auth_response_ok(&a) {
            let done = Auth {
                reason: ReasonCode::SUCCESS,
                properties: props,
            };
            self.send(conn, done.into());
        } else {
            self.protocol_error(
                conn,
                ReasonCode::NOT_AUTHORIZED,
                "authentication failed",
                now,
            );
        }
    }
}
