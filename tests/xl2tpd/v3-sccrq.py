import socket, struct, sys, time
def avp(t, val, m=True):
    return struct.pack('>HHH', (0x8000 if m else 0) | (6+len(val)), 0, t) + val
v3 = (avp(0, struct.pack('>H', 1)) + avp(7, b'v3lac.example') + avp(60, struct.pack('>I', 0xC0000202))
      + avp(61, struct.pack('>I', 0x12345678)) + avp(62, struct.pack('>HH', 5, 7)))
v3 = struct.pack('>HHIHH', 0xC803, 12 + len(v3), 0, 0, 0) + v3
v2 = (avp(0, struct.pack('>H', 1)) + avp(2, struct.pack('>BB', 1, 0)) + avp(3, struct.pack('>I', 3))
      + avp(7, b'v2lac.example') + avp(9, struct.pack('>H', 0x1234)))
v2 = struct.pack('>HHHHHH', 0xC802, 12 + len(v2), 0, 0, 0, 0) + v2
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 1701)); s.settimeout(0.5)
def drain(t):
    end = time.time() + t
    while time.time() < end:
        try:
            d, a = s.recvfrom(2000); print('  recv', d[:12].hex(), len(d))
        except socket.timeout:
            pass
for i in range(2):
    print('send v3 SCCRQ'); s.sendto(v3, (sys.argv[1], 1701)); drain(1.5)
print('send v2 SCCRQ'); s.sendto(v2, (sys.argv[1], 1701)); drain(2)
