package rfy.bench;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.util.HashMap;
import java.util.Map;

/**
 * Flink's KafkaSource -> KafkaSink copy of record values (the job of rfy's built-in kafka-copy),
 * run in a local MiniCluster.
 *
 * <pre>
 *   FlinkKafkaCopy --bootstrap-servers B --input-topic IN --output-topic OUT [-p N]
 *                  [--delivery-guarantee exactly-once|at-least-once] [--transactional-id-prefix P]
 * </pre>
 *
 * Reads IN from the earliest offsets up to the latest ones seen at start (bounded), writes each
 * value unchanged to OUT. Exactly-once checkpoints every second and commits Kafka transactions.
 */
public final class FlinkKafkaCopy {
    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            a.put(argv[i], argv[i + 1]);
        }
        String bootstrap = need(a, "--bootstrap-servers");
        String in = need(a, "--input-topic");
        String out = need(a, "--output-topic");
        int p = Integer.parseInt(a.getOrDefault("-p", "1"));
        String guarantee = a.getOrDefault("--delivery-guarantee", "exactly-once");
        String prefix = a.getOrDefault("--transactional-id-prefix", "flink-kafka-copy");

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(p);
        boolean eo = guarantee.equals("exactly-once");
        if (eo) {
            env.enableCheckpointing(1000);
        }
        KafkaSource<byte[]> source = KafkaSource.<byte[]>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(in)
                .setGroupId(prefix + "-group")
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.latest())
                .setValueOnlyDeserializer(new Bytes())
                .build();
        KafkaSink<byte[]> sink = KafkaSink.<byte[]>builder()
                .setBootstrapServers(bootstrap)
                .setRecordSerializer(KafkaRecordSerializationSchema.<byte[]>builder()
                        .setTopic(out)
                        .setValueSerializationSchema(new Same())
                        .build())
                .setDeliveryGuarantee(eo ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE)
                .setTransactionalIdPrefix(prefix)
                .setProperty("transaction.timeout.ms", "900000")
                .setProperty("linger.ms", "5")
                .build();
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "Kafka " + in).sinkTo(sink);
        env.execute("Flink Kafka copy " + in + " -> " + out);
    }

    private static String need(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) {
            System.err.println("FlinkKafkaCopy: missing " + k);
            System.exit(2);
        }
        return v;
    }

    /** Record values written as they are. */
    static final class Same implements SerializationSchema<byte[]> {
        @Override
        public byte[] serialize(byte[] element) {
            return element;
        }
    }

    /** Record values as they are. */
    static final class Bytes implements DeserializationSchema<byte[]> {
        @Override
        public byte[] deserialize(byte[] message) {
            return message;
        }

        @Override
        public boolean isEndOfStream(byte[] next) {
            return false;
        }

        @Override
        public TypeInformation<byte[]> getProducedType() {
            return PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;
        }
    }
}
