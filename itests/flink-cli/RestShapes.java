// Parses rfy's REST answers with Apache Flink's own REST client classes: for each
// argument `PATH=HEADERS_CLASS`, GETs BASE_URL + "/v1" + PATH and maps the body with
// the object mapper Flink's RestClient reads answers with (RestMapperUtils' flexible mapper) onto the response type that
// Flink's MessageHeaders class declares, as Flink's RestClient does. Prints one line
// per path ("ok" or "FAILED: reason") and exits 1 if any failed.
//
// Run with Flink's jars on the classpath (itests/flink-cli/pom.xml):
//   java -cp CLASSPATH itests/flink-cli/RestShapes.java http://127.0.0.1:8081 /jobs/overview=JobsOverviewHeaders
// A class name without a package is looked up in org.apache.flink.runtime.rest.messages(.*).
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Collection;

import org.apache.flink.runtime.rest.messages.MessageHeaders;
import org.apache.flink.runtime.rest.util.RestMapperUtils;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JavaType;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

public class RestShapes {
    static final String[] PACKAGES = {
        "", "org.apache.flink.runtime.rest.messages.", "org.apache.flink.runtime.rest.messages.job.",
        "org.apache.flink.runtime.rest.messages.job.metrics.", "org.apache.flink.runtime.rest.messages.checkpoints.",
        "org.apache.flink.runtime.rest.messages.taskmanager.", "org.apache.flink.runtime.rest.messages.cluster.",
        "org.apache.flink.runtime.rest.messages.job.savepoints.", "org.apache.flink.runtime.rest.messages.job.coordination.",
    };

    static Class<?> find(String name) throws ClassNotFoundException {
        for (String p : PACKAGES) {
            try {
                return Class.forName(p + name);
            } catch (ClassNotFoundException e) {
                // try the next package
            }
        }
        throw new ClassNotFoundException(name);
    }

    public static void main(String[] args) throws Exception {
        String base = args[0];
        ObjectMapper mapper = RestMapperUtils.getFlexibleObjectMapper();
        HttpClient http = HttpClient.newHttpClient();
        int failed = 0;
        for (int i = 1; i < args.length; i++) {
            int eq = args[i].lastIndexOf('=');
            String path = args[i].substring(0, eq);
            String headersName = args[i].substring(eq + 1);
            String result;
            try {
                Class<?> headersClass = find(headersName);
                Object instance;
                try {
                    instance = headersClass.getMethod("getInstance").invoke(null);
                } catch (NoSuchMethodException e) {
                    instance = headersClass.getField("INSTANCE").get(null);
                }
                MessageHeaders<?, ?, ?> headers = (MessageHeaders<?, ?, ?>) instance;
                HttpResponse<String> resp = http.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1" + path)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() != headers.getResponseStatusCode().code()) {
                    throw new IllegalStateException("status " + resp.statusCode() + ": " + resp.body());
                }
                Collection<Class<?>> params = headers.getResponseTypeParameters();
                JavaType type = params.isEmpty()
                        ? mapper.constructType(headers.getResponseClass())
                        : mapper.getTypeFactory().constructParametricType(
                                headers.getResponseClass(), params.toArray(new Class<?>[0]));
                Object parsed = mapper.readValue(resp.body(), type);
                result = "ok (" + parsed.getClass().getSimpleName() + ")";
            } catch (Exception e) {
                failed++;
                String m = String.valueOf(e.getMessage()).replace('\n', ' ');
                result = "FAILED: " + e.getClass().getSimpleName() + ": " + (m.length() > 600 ? m.substring(0, 600) : m);
            }
            System.out.println(path + " " + headersName + " " + result);
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
