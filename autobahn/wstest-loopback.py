# Runs wstest with every listening socket bound to 127.0.0.1.
#
# wstest 25.10.1 (autobahn 0.10.9) listens on all interfaces in fuzzingserver
# mode (and for its web UI) whatever host the spec's url names. This wrapper
# pins the interface of every TCP listener to the loopback, then hands the
# command line to wstest unchanged:
#
#   autobahn/.venv/bin/python autobahn/wstest-loopback.py -m fuzzingserver -s spec.json -u 0
import sys

# Imported first: it installs the platform's reactor (via choosereactor).
from autobahntestsuite.wstest import run
from twisted.internet import reactor

_listenTCP = reactor.listenTCP
_listenSSL = reactor.listenSSL


def _listenTCPLoopback(port, factory, backlog=50, interface=''):
    return _listenTCP(port, factory, backlog, '127.0.0.1')


def _listenSSLLoopback(port, factory, contextFactory, backlog=50, interface=''):
    return _listenSSL(port, factory, contextFactory, backlog, '127.0.0.1')


reactor.listenTCP = _listenTCPLoopback
reactor.listenSSL = _listenSSLLoopback

if __name__ == '__main__':
    sys.argv[0] = 'wstest'
    sys.exit(run())
