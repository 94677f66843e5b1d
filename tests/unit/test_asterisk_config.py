"""From rows to render specs: what Asterisk is told about agents, teams, numbers and flows."""

from leadcenter import asterisk_config, config
from leadcenter.accounts.models import Membership
from leadcenter.pbx import render
from leadcenter.trunks.models import Trunk


def _device_names(snapshot):
    return {d.name for d in snapshot.devices}


def test_every_current_agent_has_its_devices_and_queue_membership(world):
    snapshot = asterisk_config.snapshot(config.load(env={}))
    agent = world["a"]["agents"][0]
    assert {f"webrtc{agent.id}", f"desk{agent.id}"} <= _device_names(snapshot)
    queue = next(q for q in snapshot.queues if q.name == world["a"]["team"].queue_name)
    assert [m.member_name for m in queue.members] == [f"agent{a.id}" for a in world["a"]["agents"]]
    assert {r.number for r in snapshot.routes} == {world["a"]["number"].number, world["b"]["number"].number}


def test_a_desk_phone_s_message_light_is_its_own_agents_mailbox_and_a_softphone_has_none(world):
    snapshot = asterisk_config.snapshot(config.load(env={}))
    mailboxes = {d.name: d.mailbox for d in snapshot.devices}
    for agent in world["a"]["agents"] + world["b"]["agents"]:
        assert mailboxes[f"desk{agent.id}"] == f"agent{agent.id}@leadcenter"
        assert mailboxes[f"webrtc{agent.id}"] == ""


def test_a_deactivated_or_removed_agent_is_no_longer_known_to_asterisk(world):
    deactivated, removed = world["a"]["agents"]
    deactivated.user.active = False
    deactivated.user.save()
    Membership.delete().where(Membership.user == removed.user).execute()
    snapshot = asterisk_config.snapshot(config.load(env={}))
    for agent in (deactivated, removed):
        assert not {f"webrtc{agent.id}", f"desk{agent.id}"} & _device_names(snapshot)
    queue = next(q for q in snapshot.queues if q.name == world["a"]["team"].queue_name)
    assert queue.members == ()
    others = world["b"]["agents"][0]
    assert f"desk{others.id}" in _device_names(snapshot)


def test_trunk_rows_from_before_addresses_were_compared_keep_the_first_trunks_calls(world):
    """A row written as 127.1 (accepted before) is company B's trunk at A's carrier's address: Asterisk must not
    get a second identify for it, whichever company it is."""
    a_trunk = world["a"]["trunk"]
    Trunk.update(host="127.1", port=a_trunk.port).where(Trunk.id == world["b"]["trunk"].id).execute()
    text = render.render_pjsip_endpoints(asterisk_config.snapshot(config.load(env={})))
    assert text.count(f"match = 127.0.0.1:{a_trunk.port}") == 1
    assert f"[{a_trunk.endpoint_name}]\ntype = identify" in text
    assert f"endpoint = {world['b']['trunk'].endpoint_name}\n" not in text


def test_media_listens_on_the_configured_address_never_on_every_interface(world):
    def endpoints(**asterisk):
        settings = config.load(env={f"LEADCENTER_ASTERISK_{k.upper()}": v for k, v in asterisk.items()})
        snapshot = asterisk_config.snapshot(settings)
        return snapshot.media_address, render.render_pjsip_endpoints(snapshot)

    address, text = endpoints()  # by default, the address SIP listens on
    assert address == "127.0.0.1"
    endpoint_count = text.count("type = endpoint")
    assert text.count("bind_rtp_to_media_address = yes") == endpoint_count > 0
    assert endpoints(sip_host="192.0.2.10")[0] == "192.0.2.10"
    assert endpoints(sip_host="0.0.0.0", media_address="192.0.2.20")[0] == "192.0.2.20"
    # SIP on every address and no media address: nothing more precise to bind to (docs: set media_address).
    address, text = endpoints(sip_host="0.0.0.0")
    assert address == "" and "bind_rtp_to_media_address" not in text
