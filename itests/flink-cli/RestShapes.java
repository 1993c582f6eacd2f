// Parses rfy's REST answers with Apache Flink's own REST client classes: for each
// argument `PATH=HEADERS_CLASS`, GETs BASE_URL + "/v1" + PATH and maps the body with
// the object mapper Flink's RestClient reads answers with (RestMapperUtils' flexible mapper) onto the response type that
// Flink's MessageHeaders class declares, as Flink's RestClient does. Prints one line
// per path ("ok" or "FAILED: reason") and exits 1 if any failed.
//
// Jackson's flexible mapper reads a missing field as null or 0 without complaint, so
// the parsed object is also written back with Flink's own mapper: every field Flink's
// class writes must be in rfy's answer (checked recursively through objects and
// arrays), else the path fails naming the missing fields.
//
// Run with Flink's jars on the classpath (itests/flink-cli/pom.xml):
//   java -cp CLASSPATH itests/flink-cli/RestShapes.java http://127.0.0.1:8081 /jobs/overview=JobsOverviewHeaders
// A class name without a package is looked up in org.apache.flink.runtime.rest.messages(.*).
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

import org.apache.flink.runtime.rest.messages.MessageHeaders;
import org.apache.flink.runtime.rest.util.RestMapperUtils;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JavaType;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
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

    /** Adds to `missing` the path of every field of `flinks` (Flink's writing) that `ours` lacks. */
    static void missingFields(JsonNode flinks, JsonNode ours, String path, List<String> missing) {
        if (flinks.isObject() && ours.isObject()) {
            for (Iterator<String> names = flinks.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!ours.has(name)) {
                    missing.add(path + "/" + name);
                } else {
                    missingFields(flinks.get(name), ours.get(name), path + "/" + name, missing);
                }
            }
        } else if (flinks.isArray() && ours.isArray()) {
            for (int i = 0; i < Math.min(flinks.size(), ours.size()); i++) {
                missingFields(flinks.get(i), ours.get(i), path + "/" + i, missing);
            }
        }
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
                List<String> missing = new ArrayList<>();
                missingFields(
                        RestMapperUtils.getStrictObjectMapper().valueToTree(parsed),
                        mapper.readTree(resp.body()), "", missing);
                if (!missing.isEmpty()) {
                    throw new IllegalStateException("fields Flink's class has and rfy's answer lacks: " + missing);
                }
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
