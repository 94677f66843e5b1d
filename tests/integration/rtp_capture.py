"""What a SIP peer hears: RTP captured off the loopback interface (the tests run as root in their own network
namespace), decoded from G.711 to samples and checked for a tone, and the DTMF digits sent to it (RFC 4733).

SIPp binds its media port but cannot record what it receives, so the suite listens on the wire instead: every UDP
packet Asterisk sends from its RTP port range, in arrival order.
"""

from __future__ import annotations

import math
import socket
import struct
import threading

ETH_P_IP = 0x0800
PACKET_HOST = 0  # loopback shows each packet twice: as sent (PACKET_OUTGOING) and as received; keep one
RATE = 8000
HOST = "127.0.0.1"
TELEPHONE_EVENT = 101  # the payload type the SIPp callers offer for RFC 4733 events (sipp/caller.xml)
DTMF_EVENTS = "0123456789*#ABCD"


def _alaw(byte: int) -> int:
    byte ^= 0x55
    exponent, mantissa = (byte >> 4) & 7, byte & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if byte & 0x80 else -magnitude


def _ulaw(byte: int) -> int:
    byte = ~byte & 0xFF
    exponent, mantissa = (byte >> 4) & 7, byte & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if byte & 0x80 else magnitude


DECODE = {0: [_ulaw(b) for b in range(256)], 8: [_alaw(b) for b in range(256)]}  # payload type -> table


class RtpCapture:
    """Captures, while open, the G.711 audio Asterisk sends from ports ``first``..``last``."""

    def __init__(self, first: int, last: int, limit: int = 20000):
        self.ports = range(first, last + 1)
        self.limit = limit  # packets: 400 s of 20 ms frames
        self.samples: list[int] = []
        self.heard_at: dict[int, list[int]] = {}  # destination port (one peer's leg) -> the samples sent there
        self.sizes_at: dict[int, set[int]] = {}  # destination port -> the sizes of the audio packets sent there
        self.digits: list[str] = []  # RFC 4733 events, once each
        self._events_ended: set[bytes] = set()  # RTP timestamps of the events already counted
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._open = True
        self._thread = threading.Thread(target=self._run, name="rtp-capture", daemon=True)

    def __enter__(self) -> RtpCapture:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._open = False
        self._thread.join(2)
        self._sock.close()

    def _run(self) -> None:
        packets = 0
        while self._open and packets < self.limit:
            try:
                data, address = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            if address[2] != PACKET_HOST or data[9] != socket.IPPROTO_UDP:
                continue
            header = (data[0] & 0x0F) * 4
            source_port, destination_port = struct.unpack("!HH", data[header : header + 4])
            rtp = data[header + 8 :]
            if source_port not in self.ports or len(rtp) < 12 or rtp[0] >> 6 != 2:
                continue
            payload_type, start = rtp[1] & 0x7F, 12 + 4 * (rtp[0] & 0x0F)
            table = DECODE.get(payload_type)
            if table is not None:
                decoded = [table[b] for b in rtp[start:]]
                self.samples.extend(decoded)
                self.heard_at.setdefault(destination_port, []).extend(decoded)
                self.sizes_at.setdefault(destination_port, set()).add(len(rtp))
                packets += 1
            elif payload_type == TELEPHONE_EVENT and len(rtp) >= start + 4 and rtp[start + 1] & 0x80:
                # The end of an event is sent three times with the event's one RTP timestamp: count it once.
                if rtp[4:8] not in self._events_ended and rtp[start] < len(DTMF_EVENTS):
                    self._events_ended.add(rtp[4:8])
                    self.digits.append(DTMF_EVENTS[rtp[start]])
                packets += 1

    def tone_at(
        self, frequency: float, window: float = 0.2, *, port: int | None = None, share: float = 0.5
    ) -> list[float]:
        """Times (seconds into the capture, or into what was sent to ``port``) of the windows where ``frequency``
        carries more than ``share`` of the energy: most of it by default; two tones mixed at one level carry about
        half each."""
        samples = self.samples if port is None else self.heard_at.get(port, [])
        size = int(RATE * window)
        coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
        found = []
        for start in range(0, len(samples) - size, size):
            chunk = samples[start : start + size]
            energy = sum(s * s for s in chunk)
            if energy < size * 100**2:  # quieter than a whisper
                continue
            previous = before = 0.0
            for sample in chunk:  # Goertzel: the power of one frequency
                previous, before = sample + coefficient * previous - before, previous
            power = previous * previous + before * before - coefficient * previous * before
            if power / (energy * size / 2) > share:
                found.append(start / RATE)
        return found


def _alaw_encode(sample: int) -> int:
    sign, magnitude = (0x80, sample) if sample >= 0 else (0, -sample - 1)
    magnitude = min(magnitude, 32635) >> 3  # 13 bits, as G.711 A-law takes them
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def write_tone_pcap(path: str, frequency: float, seconds: float, level: float = 0.3) -> str:
    """A pcap of one RTP stream (G.711 A-law, 20 ms frames) carrying a steady tone, for SIPp's play_pcap_audio: a
    peer that speaks it is told apart on the wire from one speaking another frequency."""
    frames, samples_per_frame = int(seconds * 50), RATE // 50
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # libpcap header, Ethernet
        for n in range(frames):
            payload = bytes(
                _alaw_encode(
                    int(level * 32767 * math.sin(2 * math.pi * frequency * (n * samples_per_frame + i) / RATE))
                )
                for i in range(samples_per_frame)
            )
            rtp = struct.pack("!BBHII", 0x80, 8, n & 0xFFFF, n * samples_per_frame, 0x1D0E5) + payload
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = (
                struct.pack(
                    "!BBHHHBBH4s4s",
                    0x45,
                    0,
                    20 + len(udp),
                    n & 0xFFFF,
                    0,
                    64,
                    17,
                    0,
                    socket.inet_aton(HOST),
                    socket.inet_aton(HOST),
                )
                + udp
            )
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            usec = n * 20000
            out.write(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)) + frame)
    return path
