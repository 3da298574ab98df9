"""BankID (Swedish e-identification) at the protocol level.

  client     BankIdClient for the Relying Party API v6.0 (auth, sign, phone/auth, phone/sign, collect, cancel)
             over mutual TLS, with typed answers and errors. Plain Python.
  qr         animated QR codes (content, SVG) and autostart links. Plain Python.
  simulator  a local BankID stand-in speaking the same API over mutual TLS, with pages for a "test user"
             on a separate loopback port. Standard library only.
  testpki    a throw-away PKI (server CA, RP CA, certificates) for the simulator and tests.
  hints      user messages for collect's hint codes and API errors; the only module that imports Django.

Nothing is imported here, so that importing the plain-Python modules never pulls in Django.
"""
