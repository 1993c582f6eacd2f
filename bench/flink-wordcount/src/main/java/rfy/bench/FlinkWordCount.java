package rfy.bench;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Flink's streaming WordCount (the same job as Flink's own example), run in a local MiniCluster.
 *
 * <pre>
 *   FlinkWordCount --input FILE [-p N] [--output FILE]
 * </pre>
 *
 * Without --output every (word, running count) update goes to a DiscardingSink (the benchmark).
 * With --output the updates are collected to this process and the last count per word is written
 * as "word\tcount" lines sorted by word (to check the tokenizer against data/kjv.flink-counts.tsv).
 */
public final class FlinkWordCount {

    static final String WORDS = "words";

    /** Flink's example tokenizer: lower-case, split on \W+, drop empty tokens; also counts words. */
    public static final class Tokenizer extends RichFlatMapFunction<String, Tuple2<String, Integer>> {
        private final LongCounter words = new LongCounter();

        @Override
        public void open(OpenContext openContext) {
            getRuntimeContext().addAccumulator(WORDS, words);
        }

        @Override
        public void flatMap(String line, Collector<Tuple2<String, Integer>> out) {
            for (String token : line.toLowerCase().split("\\W+")) {
                if (token.length() > 0) {
                    words.add(1L);
                    out.collect(new Tuple2<>(token, 1));
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String input = null;
        String output = null;
        int parallelism = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--input": input = args[++i]; break;
                case "--output": output = args[++i]; break;
                case "-p": case "--parallelism": parallelism = Integer.parseInt(args[++i]); break;
                default:
                    System.err.println("usage: FlinkWordCount --input FILE [-p N] [--output FILE]");
                    System.exit(2);
            }
        }
        if (input == null) {
            System.err.println("usage: FlinkWordCount --input FILE [-p N] [--output FILE]");
            System.exit(2);
        }

        long t0 = System.nanoTime();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setRuntimeMode(RuntimeExecutionMode.STREAMING);
        env.setParallelism(parallelism);

        FileSource<String> source =
                FileSource.forRecordStreamFormat(new TextLineInputFormat(), new Path(input)).build();
        DataStream<Tuple2<String, Integer>> counts =
                env.fromSource(source, WatermarkStrategy.noWatermarks(), "file-input")
                        .flatMap(new Tokenizer())
                        .name("tokenizer")
                        .returns(Types.TUPLE(Types.STRING, Types.INT))
                        .keyBy(value -> value.f0)
                        .sum(1)
                        .name("counter");

        long words;
        if (output == null) {
            counts.sinkTo(new DiscardingSink<>()).name("discard");
            JobExecutionResult result = env.execute("WordCount");
            Long w = result.getAccumulatorResult(WORDS);
            words = w == null ? -1 : w;
        } else {
            Map<String, Integer> last = new HashMap<>();
            long updates = 0;
            try (CloseableIterator<Tuple2<String, Integer>> it = counts.executeAndCollect("WordCount")) {
                while (it.hasNext()) {
                    Tuple2<String, Integer> t = it.next();
                    last.put(t.f0, t.f1);
                    updates++;
                }
            }
            words = updates;
            writeCounts(last, output);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("flink-wordcount: flink=%s p=%d words=%d wall_in_jvm=%.3fs%n",
                EnvironmentInformation.getVersion(), parallelism, words, secs);
    }

    static void writeCounts(Map<String, Integer> counts, String output) throws IOException {
        List<String> words = new ArrayList<>(counts.keySet());
        words.sort(null);
        try (BufferedWriter w = Files.newBufferedWriter(Paths.get(output), StandardCharsets.UTF_8)) {
            for (String word : words) {
                w.write(word);
                w.write('\t');
                w.write(Integer.toString(counts.get(word)));
                w.write('\n');
            }
        }
    }
}
