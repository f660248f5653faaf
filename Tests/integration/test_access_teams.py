"""Teams: invites (outbox delivery, accept, expiry, revocation), members, roles, switching."""
import uuid

from access_helpers import (INVITE_FIELDS, MEMBER_FIELDS, accept_response, assert_invalid, assert_iso_utc,
                            assert_no_credential_fields, assert_token_pair, client, invite, invite_response,
                            join_team, jwt_decode, login, members_by_id, parse_time, psql, refresh_response, register,
                            rows_containing, team_ids, team_with_member, unique_email)
from conftest import assert_envelope


def _expire(invite_id):
    psql("UPDATE team_invites SET expires_at = now() - interval '1 minute' WHERE id = :'id';", id=invite_id)


def test_invite_goes_to_the_outbox_and_the_invitee_joins():
    owner, invitee = register(), register()
    r = invite_response(owner, invitee.email, "editor")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["delivery"] == "outbox"
    token = body["token"]
    assert isinstance(token, str) and len(token) >= 20
    sent = body["invite"]
    assert INVITE_FIELDS <= set(sent) and "token" not in sent, sent
    assert (sent["email"], sent["role"]) == (invitee.email, "editor")
    assert_iso_utc(sent["expires_at"])
    lifetime = parse_time(sent["expires_at"]) - parse_time(sent["created_at"])
    assert abs(lifetime.total_seconds() - 7 * 86400) < 120, lifetime
    assert rows_containing("email_outbox", invitee.email) == 1
    assert rows_containing("email_outbox", token) == 1, "the message carries the invite token"

    pending = owner.get("/api/team/invites")
    assert pending.status_code == 200, pending.text
    assert [i["id"] for i in pending.json()["items"]] == [sent["id"]]
    assert token not in pending.text

    r = accept_response(invitee, token)
    assert r.status_code == 200, r.text
    assert r.json() == {"team": {"id": owner.team["id"], "name": owner.team["name"], "role": "editor"}}
    assert team_ids(invitee) == {invitee.team["id"]: "owner", owner.team["id"]: "editor"}
    assert owner.get("/api/team/invites").json()["items"] == []
    assert_envelope(accept_response(invitee, token), 404, "not_found")


def test_switch_team_issues_tokens_for_the_new_team():
    owner, member = register(), register()
    personal = member.team
    token = invite(owner, member.email, "viewer")["token"]
    assert accept_response(member, token).status_code == 200
    r = member.post("/api/auth/switch-team", {"team_id": owner.team["id"]})
    assert r.status_code == 200, r.text
    body = r.json()
    access, refresh = assert_token_pair(body)
    assert body["team"] == {"id": owner.team["id"], "name": owner.team["name"], "role": "viewer"}
    assert access["team"] == refresh["team"] == owner.team["id"]
    member.adopt(body)
    got = member.get("/api/auth/me").json()
    assert got["team"]["id"] == owner.team["id"] and got["team"]["role"] == "viewer"
    # A refresh may move the session back to another team of the user.
    r = refresh_response(member.http, member.refresh, team_id=personal["id"])
    assert r.status_code == 200, r.text
    assert r.json()["team"]["id"] == personal["id"]
    assert jwt_decode(r.json()["access_token"])[1]["team"] == personal["id"]


def test_switch_to_a_team_of_others_is_404():
    account, stranger = register(), register()
    assert_envelope(account.post("/api/auth/switch-team", {"team_id": stranger.team["id"]}), 404, "not_found")
    assert_envelope(account.post("/api/auth/switch-team", {"team_id": str(uuid.uuid4())}), 404, "not_found")
    assert_invalid(account.post("/api/auth/switch-team", {}), "team_id")


def test_members_list_shows_roles():
    owner, member = team_with_member("editor")
    for viewer in (owner, member):
        members = members_by_id(viewer)
        assert set(members) == {owner.id, member.id}
        for item in members.values():
            assert MEMBER_FIELDS <= set(item), item
            assert_iso_utc(item["joined_at"])
        assert members[owner.id]["role"] == "owner" and members[member.id]["role"] == "editor"
        assert (members[member.id]["email"], members[member.id]["username"]) == (member.email, member.username)
        assert_no_credential_fields(members)


def test_editor_and_viewer_cannot_manage_the_team():
    owner, editor = team_with_member("editor")
    viewer = register()
    join_team(owner, viewer, "viewer")
    for account in (editor, viewer):
        assert_envelope(invite_response(account, unique_email(), "viewer"), 403, "forbidden")
        assert_envelope(account.get("/api/team/invites"), 403, "forbidden")
        assert_envelope(account.patch(f"/api/team/members/{owner.id}", {"role": "viewer"}), 403, "forbidden")
        assert_envelope(account.delete(f"/api/team/members/{owner.id}"), 403, "forbidden")
    assert members_by_id(owner)[owner.id]["role"] == "owner"


def test_invite_validation_and_conflicts():
    owner, member = team_with_member("editor")
    assert_invalid(invite_response(owner, "not-an-email", "editor"), "email")
    assert_invalid(invite_response(owner, unique_email(), "superuser"), "role")
    assert_envelope(invite_response(owner, member.email, "viewer"), 409, "conflict")
    pending = unique_email()
    invite(owner, pending, "viewer")
    assert_envelope(invite_response(owner, pending.upper(), "viewer"), 409, "conflict")


def test_invite_for_another_email_is_403():
    owner, intended, intruder = register(), register(), register()
    token = invite(owner, intended.email)["token"]
    assert_envelope(accept_response(intruder, token), 403, "forbidden")
    assert owner.team["id"] not in team_ids(intruder)
    assert accept_response(intended, token).status_code == 200


def test_expired_invite_is_410():
    owner, invitee = register(), register()
    sent = invite(owner, invitee.email)
    _expire(sent["invite"]["id"])
    assert_envelope(accept_response(invitee, sent["token"]), 410, "invite_expired")
    assert owner.team["id"] not in team_ids(invitee)


def test_unknown_invite_token_is_404():
    assert_envelope(accept_response(register(), "no-such-token-" + uuid.uuid4().hex), 404, "not_found")


def test_revoked_invite_cannot_be_accepted():
    owner, invitee = register(), register()
    sent = invite(owner, invitee.email)
    invite_id = sent["invite"]["id"]
    r = owner.delete(f"/api/team/invites/{invite_id}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": invite_id, "status": "revoked"}
    assert owner.get("/api/team/invites").json()["items"] == []
    assert_envelope(accept_response(invitee, sent["token"]), 404, "not_found")
    assert_envelope(owner.delete(f"/api/team/invites/{uuid.uuid4()}"), 404, "not_found")


def test_last_owner_can_be_neither_demoted_nor_removed():
    owner, member = team_with_member("admin")
    assert_envelope(owner.patch(f"/api/team/members/{owner.id}", {"role": "admin"}), 409, "last_owner")
    assert_envelope(owner.delete(f"/api/team/members/{owner.id}"), 409, "last_owner")
    assert_envelope(member.delete(f"/api/team/members/{owner.id}"), 403, "forbidden")
    solo = register()
    assert_envelope(solo.patch(f"/api/team/members/{solo.id}", {"role": "viewer"}), 409, "last_owner")
    assert_envelope(solo.delete(f"/api/team/members/{solo.id}"), 409, "last_owner")
    assert members_by_id(owner)[owner.id]["role"] == "owner"


def test_promoted_admin_can_invite_but_not_grant_owner():
    owner, member = team_with_member("editor")
    r = owner.patch(f"/api/team/members/{member.id}", {"role": "admin"})
    assert r.status_code == 200, r.text
    assert MEMBER_FIELDS <= set(r.json()) and r.json()["role"] == "admin" and r.json()["user_id"] == member.id
    assert invite_response(member, unique_email(), "editor").status_code == 201
    assert invite_response(member, unique_email(), "admin").status_code == 201
    assert_envelope(invite_response(member, unique_email(), "owner"), 403, "forbidden")
    assert_envelope(member.patch(f"/api/team/members/{member.id}", {"role": "owner"}), 403, "forbidden")
    assert_envelope(member.patch(f"/api/team/members/{owner.id}", {"role": "editor"}), 403, "forbidden")
    assert_invalid(owner.patch(f"/api/team/members/{member.id}", {"role": "god"}), "role")
    assert_envelope(owner.patch(f"/api/team/members/{uuid.uuid4()}", {"role": "viewer"}), 404, "not_found")


def test_owner_can_hand_over_ownership():
    owner, member = team_with_member("editor")
    assert owner.patch(f"/api/team/members/{member.id}", {"role": "owner"}).status_code == 200
    r = owner.patch(f"/api/team/members/{owner.id}", {"role": "admin"})
    assert r.status_code == 200, r.text
    assert members_by_id(member)[owner.id]["role"] == "admin"


def test_removed_member_loses_the_team():
    owner, member = team_with_member("editor")
    r = owner.delete(f"/api/team/members/{member.id}")
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": member.id, "status": "removed"}
    assert set(members_by_id(owner)) == {owner.id}
    # The session still pointing at the team gets nothing of it.
    assert member.get("/api/team/members").status_code in (401, 403, 404)
    fresh = login(member, client())
    assert owner.team["id"] not in team_ids(fresh)
    assert_envelope(fresh.post("/api/auth/switch-team", {"team_id": owner.team["id"]}), 404, "not_found")
    assert_envelope(owner.delete(f"/api/team/members/{member.id}"), 404, "not_found")


def test_member_may_leave():
    owner, member = team_with_member("viewer")
    r = member.delete(f"/api/team/members/{member.id}")
    assert r.status_code == 200, r.text
    assert set(members_by_id(owner)) == {owner.id}
