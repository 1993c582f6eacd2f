// A small Hadoop IPC v9 server whose SASL side is the JDK's own DIGEST-MD5
// server (com.sun.security.sasl.digest, the one every Hadoop daemon uses), for
// rfy's test hadoop/tests/sasl_digest_qop.rs. Run as a single source file:
//
//   java Peer.java <username> <password> <config>...
//
// <username>/<password>: what the token authenticates as (Hadoop: base64 of the
// token identifier and password). Each <config> is `<qops>[/<ciphers>]`, e.g.
// `auth-int`, `auth-conf/rc4`, `auth,auth-int,auth-conf`: the server's Sasl.QOP
// and, when given, the cipher list its challenge advertises (the JDK server
// offers every cipher it has; the test narrows the offer to force one).
// For each config it listens on 127.0.0.1 and prints `LISTEN <config> <port>`,
// then `READY`. It exits when its standard input closes.
//
// After SASL (preamble, NEGOTIATE, INITIATE, SUCCESS as Hadoop's Server sends
// them) it reads the connection context and answers calls by echoing the
// request message, wrapping every response as Server#wrapWithSasl does when the
// qop is auth-int or auth-conf. Method names choose how responses are sent:
// `echo` one per wrap, `pair` two responses in one wrap, `split` one response
// across two wraps. A context that is missing or names another protocol than a
// call gets an ERROR response.

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import javax.security.auth.callback.*;
import javax.security.sasl.*;

public class Peer {
    static String user;
    static char[] password;

    public static void main(String[] args) throws Exception {
        user = args[0];
        password = args[1].toCharArray();
        for (int i = 2; i < args.length; i++) {
            String config = args[i];
            ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            System.out.println("LISTEN " + config + " " + ss.getLocalPort());
            Thread t = new Thread(() -> acceptLoop(ss, config));
            t.setDaemon(true);
            t.start();
        }
        System.out.println("READY");
        System.out.flush();
        while (System.in.read() != -1) {
        }
        System.exit(0);
    }

    static void acceptLoop(ServerSocket ss, String config) {
        while (true) {
            try {
                Socket s = ss.accept();
                Thread t = new Thread(() -> {
                    try (s) {
                        new Conn(s, config).serve();
                    } catch (EOFException e) {
                        // client closed
                    } catch (Exception e) {
                        System.err.println("Peer [" + config + "]: " + e);
                    }
                });
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                System.err.println("Peer accept: " + e);
                return;
            }
        }
    }

    static final class Conn {
        final DataInputStream in;
        final OutputStream out;
        final String qops;
        final String cipherOffer;
        SaslServer sasl;
        boolean wrap;
        String contextProtocol;
        final List<byte[]> heldPairs = new ArrayList<>();
        final ByteArrayOutputStream unwrapped = new ByteArrayOutputStream();

        Conn(Socket s, String config) throws IOException {
            in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
            out = new BufferedOutputStream(s.getOutputStream());
            int slash = config.indexOf('/');
            qops = slash < 0 ? config : config.substring(0, slash);
            cipherOffer = slash < 0 ? null : config.substring(slash + 1);
        }

        void serve() throws Exception {
            byte[] pre = new byte[7];
            in.readFully(pre);
            if (pre[0] != 'h' || pre[1] != 'r' || pre[2] != 'p' || pre[3] != 'c' || pre[4] != 9 || pre[6] != (byte) 0xdf) {
                throw new IOException("bad preamble " + Arrays.toString(pre));
            }
            Pb.Reader f = new Pb.Reader(readFrame());
            f.delimited();
            Map<Integer, List<Object>> m = Pb.parse(f.delimited());
            if (Pb.num(m, 2) != 1) throw new IOException("expected NEGOTIATE");

            Map<String, Object> props = new HashMap<>();
            props.put(Sasl.QOP, qops);
            props.put(Sasl.SERVER_AUTH, "true");
            sasl = Sasl.createSaslServer("DIGEST-MD5", "", "default", props, Peer::handle);
            byte[] challenge = sasl.evaluateResponse(new byte[0]);
            if (cipherOffer != null) {
                String c = new String(challenge, StandardCharsets.UTF_8);
                c = c.replaceAll("cipher=\"[^\"]*\"", "cipher=\"" + cipherOffer + "\"");
                challenge = c.getBytes(StandardCharsets.UTF_8);
            }
            ByteArrayOutputStream auth = new ByteArrayOutputStream();
            Pb.field(auth, 1, "TOKEN");
            Pb.field(auth, 2, "DIGEST-MD5");
            Pb.field(auth, 3, "");
            Pb.field(auth, 4, "default");
            Pb.field(auth, 5, challenge);
            ByteArrayOutputStream neg = new ByteArrayOutputStream();
            Pb.field(neg, 2, 1);
            Pb.field(neg, 4, auth.toByteArray());
            sendRaw(frame(header(-33, 0, null, null), Pb.delimited(neg.toByteArray())));

            f = new Pb.Reader(readFrame());
            f.delimited();
            m = Pb.parse(f.delimited());
            if (Pb.num(m, 2) != 2) throw new IOException("expected INITIATE");
            byte[] fin;
            try {
                fin = sasl.evaluateResponse(Pb.bytes(m, 3));
            } catch (SaslException e) {
                sendRaw(frame(header(-33, 2, "javax.security.sasl.SaslException", e.getMessage()), null));
                return;
            }
            ByteArrayOutputStream ok = new ByteArrayOutputStream();
            Pb.field(ok, 2, 0);
            Pb.field(ok, 3, fin);
            sendRaw(frame(header(-33, 0, null, null), Pb.delimited(ok.toByteArray())));
            String qop = (String) sasl.getNegotiatedProperty(Sasl.QOP);
            wrap = !"auth".equals(qop);

            while (true) {
                byte[] body = readFrame();
                if (!wrap) {
                    handle(body);
                    continue;
                }
                f = new Pb.Reader(body);
                Map<Integer, List<Object>> h = Pb.parse(f.delimited());
                if (Pb.zigzag(Pb.num(h, 3)) != -33) throw new IOException("non-wrapped request after SASL");
                m = Pb.parse(f.delimited());
                if (Pb.num(m, 2) != 5) throw new IOException("expected WRAP, got state " + Pb.num(m, 2));
                byte[] token = Pb.bytes(m, 3);
                byte[] plain = sasl.unwrap(token, 0, token.length);
                if (plain.length == 0 && token.length > 0) {
                    throw new IOException("unwrap refused a message (MAC or padding)");
                }
                unwrapped.write(plain);
                drainFrames();
            }
        }

        void drainFrames() throws IOException {
            byte[] all = unwrapped.toByteArray();
            int p = 0;
            while (all.length - p >= 4) {
                int len = ((all[p] & 0xff) << 24) | ((all[p + 1] & 0xff) << 16) | ((all[p + 2] & 0xff) << 8) | (all[p + 3] & 0xff);
                if (all.length - p - 4 < len) break;
                handle(Arrays.copyOfRange(all, p + 4, p + 4 + len));
                p += 4 + len;
            }
            unwrapped.reset();
            unwrapped.write(all, p, all.length - p);
        }

        void handle(byte[] body) throws IOException {
            Pb.Reader r = new Pb.Reader(body);
            Map<Integer, List<Object>> h = Pb.parse(r.delimited());
            int callId = (int) Pb.zigzag(Pb.num(h, 3));
            if (callId == -3) {
                contextProtocol = Pb.str(Pb.parse(r.delimited()), 3);
                return;
            }
            Map<Integer, List<Object>> rh = Pb.parse(r.delimited());
            String method = Pb.str(rh, 1);
            String protocol = Pb.str(rh, 2);
            byte[] request = r.delimited();
            if (contextProtocol == null || !contextProtocol.equals(protocol)) {
                send(frame(header(callId, 1, "java.io.IOException",
                        "connection context protocol " + contextProtocol + " != call protocol " + protocol), null));
                return;
            }
            byte[] response = frame(header(callId, 0, null, null), Pb.delimited(request));
            switch (method) {
                case "pair":
                    heldPairs.add(response);
                    if (heldPairs.size() == 2) {
                        ByteArrayOutputStream both = new ByteArrayOutputStream();
                        for (byte[] b : heldPairs) both.write(b);
                        heldPairs.clear();
                        send(both.toByteArray());
                    }
                    break;
                case "split":
                    int mid = response.length / 2;
                    send(Arrays.copyOfRange(response, 0, mid));
                    send(Arrays.copyOfRange(response, mid, response.length));
                    break;
                default:
                    send(response);
            }
        }

        /** Sends bytes of the response stream: wrapped in a SASL WRAP message, or as they are. */
        void send(byte[] plain) throws IOException {
            if (!wrap) {
                sendRaw(plain);
                return;
            }
            byte[] token = sasl.wrap(plain, 0, plain.length);
            ByteArrayOutputStream m = new ByteArrayOutputStream();
            Pb.field(m, 2, 5);
            Pb.field(m, 3, token);
            sendRaw(frame(header(-33, 0, null, null), Pb.delimited(m.toByteArray())));
        }

        void sendRaw(byte[] b) throws IOException {
            out.write(b);
            out.flush();
        }

        byte[] readFrame() throws IOException {
            int len = in.readInt();
            if (len < 0 || len > (256 << 20)) throw new IOException("bad frame length " + len);
            byte[] b = new byte[len];
            in.readFully(b);
            return b;
        }
    }

    /** RpcResponseHeaderProto: callId (uint32), status, serverIpcVersionNum 9, and an exception for errors. */
    static byte[] header(int callId, int status, String exClass, String msg) {
        ByteArrayOutputStream h = new ByteArrayOutputStream();
        Pb.field(h, 1, callId & 0xffffffffL);
        Pb.field(h, 2, status);
        Pb.field(h, 3, 9);
        if (exClass != null) {
            Pb.field(h, 4, exClass);
            Pb.field(h, 5, msg == null ? "" : msg);
        }
        return h.toByteArray();
    }

    /** A response frame: length, delimited header, then `rest` (already delimited) if any. */
    static byte[] frame(byte[] header, byte[] rest) {
        byte[] h = Pb.delimited(header);
        if (rest == null) rest = new byte[0];
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        int len = h.length + rest.length;
        o.write(len >>> 24);
        o.write(len >>> 16);
        o.write(len >>> 8);
        o.write(len);
        o.writeBytes(h);
        o.writeBytes(rest);
        return o.toByteArray();
    }

    static void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback cb : callbacks) {
            if (cb instanceof NameCallback) {
                // the name the client sent; AuthorizeCallback below accepts only `user`
            } else if (cb instanceof PasswordCallback) {
                ((PasswordCallback) cb).setPassword(password);
            } else if (cb instanceof RealmCallback) {
                RealmCallback rc = (RealmCallback) cb;
                rc.setText(rc.getDefaultText());
            } else if (cb instanceof AuthorizeCallback) {
                AuthorizeCallback ac = (AuthorizeCallback) cb;
                ac.setAuthorized(user.equals(ac.getAuthenticationID()) && ac.getAuthenticationID().equals(ac.getAuthorizationID()));
                if (ac.isAuthorized()) ac.setAuthorizedID(ac.getAuthorizationID());
            } else {
                throw new UnsupportedCallbackException(cb);
            }
        }
    }

    /** Just enough protobuf: varints, length-delimited fields, and parsing into field-number maps. */
    static final class Pb {
        static final class Reader {
            final byte[] b;
            int p;

            Reader(byte[] b) {
                this.b = b;
            }

            boolean more() {
                return p < b.length;
            }

            long varint() throws IOException {
                long v = 0;
                for (int shift = 0; shift < 64; shift += 7) {
                    if (p >= b.length) throw new IOException("truncated varint");
                    int x = b[p++] & 0xff;
                    v |= (long) (x & 0x7f) << shift;
                    if ((x & 0x80) == 0) return v;
                }
                throw new IOException("varint too long");
            }

            byte[] take(int n) throws IOException {
                if (n < 0 || p + n > b.length) throw new IOException("truncated field");
                byte[] r = Arrays.copyOfRange(b, p, p + n);
                p += n;
                return r;
            }

            byte[] delimited() throws IOException {
                return take((int) varint());
            }
        }

        static Map<Integer, List<Object>> parse(byte[] msg) throws IOException {
            Map<Integer, List<Object>> m = new HashMap<>();
            Reader r = new Reader(msg);
            while (r.more()) {
                long key = r.varint();
                int field = (int) (key >>> 3);
                int type = (int) (key & 7);
                Object v;
                switch (type) {
                    case 0: v = r.varint(); break;
                    case 2: v = r.delimited(); break;
                    case 1: v = r.take(8); break;
                    case 5: v = r.take(4); break;
                    default: throw new IOException("wire type " + type);
                }
                m.computeIfAbsent(field, k -> new ArrayList<>()).add(v);
            }
            return m;
        }

        static long num(Map<Integer, List<Object>> m, int f) throws IOException {
            List<Object> l = m.get(f);
            if (l == null) throw new IOException("missing field " + f);
            return (Long) l.get(0);
        }

        static byte[] bytes(Map<Integer, List<Object>> m, int f) {
            List<Object> l = m.get(f);
            return l == null ? new byte[0] : (byte[]) l.get(0);
        }

        static String str(Map<Integer, List<Object>> m, int f) {
            List<Object> l = m.get(f);
            return l == null ? null : new String((byte[]) l.get(0), StandardCharsets.UTF_8);
        }

        static long zigzag(long v) {
            return (v >>> 1) ^ -(v & 1);
        }

        static void varint(ByteArrayOutputStream o, long v) {
            while ((v & ~0x7fL) != 0) {
                o.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            o.write((int) v);
        }

        static void field(ByteArrayOutputStream o, int f, long v) {
            varint(o, ((long) f << 3));
            varint(o, v);
        }

        static void field(ByteArrayOutputStream o, int f, byte[] b) {
            varint(o, ((long) f << 3) | 2);
            varint(o, b.length);
            o.writeBytes(b);
        }

        static void field(ByteArrayOutputStream o, int f, String s) {
            field(o, f, s.getBytes(StandardCharsets.UTF_8));
        }

        static byte[] delimited(byte[] m) {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            varint(o, m.length);
            o.writeBytes(m);
            return o.toByteArray();
        }
    }
}
