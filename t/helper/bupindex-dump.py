#!/usr/bin/env python3
# Decode a bupindex (FORMAT.md 8.1) in file order, one entry per line:
# offset, basename (repr), then every field of the 130-byte struct.
# --no-times masks ctime/mtime/atime (they depend on when a tree was
# made); --no-atime masks atime only.  Used by t4000-index.sh to compare
# the index files cbup and bup write.
import struct, sys

SIG = '!QQQqQqQqQQII20sHQIQ'
ENTLEN = struct.calcsize(SIG)
args = sys.argv[1:]
no_times = '--no-times' in args
no_atime = '--no-atime' in args
path = [a for a in args if not a.startswith('--')][0]
m = open(path, 'rb').read()
if m[:8] != b'BUPI\0\0\0\7':
    sys.exit('bad header %r' % m[:8])
ofs = 8
end = len(m) - 8
while ofs + ENTLEN <= end:
    eon = m.index(b'\0', ofs)
    name = m[ofs:eon]
    f = list(struct.unpack(SIG, m[eon + 1:eon + 1 + ENTLEN]))
    if no_times:
        f[3:9] = ['T'] * 6
    elif no_atime:
        f[7:9] = ['T'] * 2
    f[12] = f[12].hex()
    f[4 + 0] = f[4]
    print(ofs, repr(name), 'dev=%s ino=%s nlink=%s c=%s.%s m=%s.%s a=%s.%s '
          'size=%s mode=%o gitmode=%o sha=%s flags=%04x cofs=%s cn=%s '
          'meta=%s' % tuple(f))
    ofs = eon + 1 + ENTLEN
print('count', struct.unpack('!Q', m[end:])[0])
