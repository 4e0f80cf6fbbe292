#!/usr/bin/env python3
# Decode a bupindex (FORMAT.md 8.1) in file order, one entry per line:
# offset, basename (repr), then every field of the 130-byte struct, times
# as seconds.nanoseconds, then the footer count.  --no-atime masks the
# atime (reading a directory or a symlink changes it); --no-times masks
# all three times.  t4000-index.sh compares the index files cbup and bup
# write through it.
import struct, sys

SIG = '!QQQqQqQqQQII20sHQIQ'
ENTLEN = struct.calcsize(SIG)
args = sys.argv[1:]
no_times = '--no-times' in args
no_atime = '--no-atime' in args
path = [a for a in args if not a.startswith('--')][0]
m = open(path, 'rb').read()
if m[:8] != b'BUPI\0\0\0\7':
    sys.exit('%s: bad header %r' % (path, m[:8]))
ofs = 8
end = len(m) - 8
while ofs + ENTLEN <= end:
    eon = m.index(b'\0', ofs)
    name = m[ofs:eon]
    (dev, ino, nlink, cs, cns, ms, mns, as_, ans, size, mode, gitmode, sha,
     flags, cofs, cn, meta) = struct.unpack(SIG, m[eon + 1:eon + 1 + ENTLEN])
    c = '%d.%09d' % (cs, cns)
    mt = '%d.%09d' % (ms, mns)
    a = '%d.%09d' % (as_, ans)
    if no_times:
        c = mt = a = 'T'
    if no_atime:
        a = 'T'
    print('%d %r dev=%d ino=%d nlink=%d c=%s m=%s a=%s size=%d mode=%o '
          'gitmode=%o sha=%s flags=%04x cofs=%d cn=%d meta=%d'
          % (ofs, name, dev, ino, nlink, c, mt, a, size, mode, gitmode,
             sha.hex(), flags, cofs, cn, meta))
    ofs = eon + 1 + ENTLEN
print('count', struct.unpack('!Q', m[end:])[0])
