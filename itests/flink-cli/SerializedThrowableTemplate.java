// Prints (hex) the Java serialization of an org.apache.flink.util.SerializedThrowable whose
// original exception could not be serialized (so `serializedException` is null and Flink's
// deserializeError() returns the SerializedThrowable itself), with placeholder strings
// @C@ (original class name) and @M@ (message) for rfy's REST `failure-cause` to fill in.
// The output is the template in jobmanager/src/rest/throwable.rs. Regenerate with Flink's
// jars on the classpath (itests/flink-cli/pom.xml):
//   java -cp CLASSPATH itests/flink-cli/SerializedThrowableTemplate.java
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import org.apache.flink.util.SerializedThrowable;

public class SerializedThrowableTemplate {
    /** Not serializable (a field of a non-serializable type): SerializedThrowable stores null. */
    static class Unserializable extends Exception {
        final Object notSerializable = new Object();
        Unserializable(String m) { super(m, null, false, true); }
    }

    public static void main(String[] args) throws Exception {
        Unserializable original = new Unserializable("@M@");
        original.setStackTrace(new StackTraceElement[0]);
        SerializedThrowable t = new SerializedThrowable(original);
        if (t.getSerializedException() != null) throw new IllegalStateException("expected no serialized original");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(t);
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : bytes.toByteArray()) hex.append(String.format("%02x", b));
        System.out.println(hex);
        System.err.println("class: " + t.getOriginalErrorClassName() + " message: " + t.getMessage()
                + " trace: " + t.getFullStringifiedStackTrace());
    }
}
