// Strict check of Strimzi KafkaTopic objects in rendered manifests, with Strimzi's own model classes.
//
//   mvn -q -B -f tests/deploy/strimzi/pom.xml dependency:build-classpath -Dmdep.outputFile=cp.txt
//   java -cp "$(cat cp.txt)" tests/deploy/strimzi/KafkaTopicCheck.java FILE...
//
// The source is Java 17, but io.strimzi:api 1.2.0 is compiled for Java 21 (class file 65), so the
// `java` that runs it must be 21 or newer (scripts/tools.sh links one as build/tools/bin/java21).
//
// Prints one line per KafkaTopic and a summary; exits 1 on any failed object or unreadable file.
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.introspect.AnnotatedMember;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

public class KafkaTopicCheck {
    // fabric8's CustomResource has an slf4j logger and no provider is on the classpath: keep slf4j's
    // warning off stderr. Must run before the static fields below load KafkaTopic.
    static { System.setProperty("slf4j.internal.verbosity", "ERROR"); }

    // Helm starts every document with a "---" line and, for templates, a "# Source:" comment.
    private static final Pattern DOC_START = Pattern.compile("(?m)^---(?=\\s|$)");
    private static final Pattern SOURCE = Pattern.compile("(?m)^# Source: (\\S+)");

    // The apiVersions Strimzi serves for KafkaTopic, from its own constants (1.2.0: only v1).
    private static final List<String> API_VERSIONS = KafkaTopic.VERSIONS.stream()
            .map(v -> KafkaTopic.RESOURCE_GROUP + "/" + v).collect(Collectors.toList());

    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            // The API server refuses "3" for an integer and 3 for a string: no scalar coercion at all.
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .withCoercionConfigDefaults(c -> {
                for (CoercionInputShape s : List.of(CoercionInputShape.String, CoercionInputShape.Integer,
                        CoercionInputShape.Float, CoercionInputShape.Boolean, CoercionInputShape.EmptyString))
                    c.setCoercion(s, CoercionAction.Fail);
            })
            // kubectl and Helm refuse a key given twice; Jackson would keep the last one silently.
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            // Strimzi and fabric8 classes swallow unknown keys with @JsonAnySetter, so this only
            // matters for classes without one; the rest is found by unknownFields() below.
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: KafkaTopicCheck FILE...");
            System.exit(2);
        }
        int topics = 0, failed = 0, fileErrors = 0;
        for (String file : args) {
            String text;
            try {
                text = Files.readString(Path.of(file));
            } catch (Exception e) {
                System.out.println("ERROR " + file + ": cannot read: " + e);
                fileErrors++;
                continue;
            }
            List<String> docs = splitDocuments(text);
            for (int d = 0; d < docs.size(); d++) {
                String doc = docs.get(d);
                Matcher m = SOURCE.matcher(doc);
                String source = m.find() ? file + ": " + m.group(1) : file + " document " + (d + 1);
                JsonNode node;
                try {
                    node = MAPPER.readTree(doc);
                } catch (Exception e) {
                    System.out.println("ERROR " + source + ": not valid YAML: " + oneLine(e.getMessage()));
                    fileErrors++;
                    continue;
                }
                if (node == null || !node.isObject() || !KafkaTopic.RESOURCE_KIND.equals(node.path("kind").asText()))
                    continue;
                topics++;
                String name = node.path("metadata").path("name").asText("?");
                List<String> problems = check(node);
                if (problems.isEmpty()) {
                    System.out.println("ok    KafkaTopic/" + name + " (" + source + ")");
                } else {
                    failed++;
                    System.out.println("FAIL  KafkaTopic/" + name + " (" + source + "): " + String.join("; ", problems));
                }
            }
        }
        if (topics == 0) System.out.println("strimzi: no KafkaTopic objects found");
        System.out.println("strimzi: " + topics + " KafkaTopic objects, " + failed + " failed"
                + (fileErrors > 0 ? ", " + fileErrors + " unreadable files/documents" : ""));
        System.exit(failed > 0 || fileErrors > 0 ? 1 : 0);
    }

    // Splits on "---" lines the way Helm's own manifest splitter does (a "---" at column 0 cannot
    // be inside a block scalar of a mapping document).
    static List<String> splitDocuments(String text) {
        List<String> docs = new ArrayList<>();
        for (String d : DOC_START.split(text)) if (!d.isBlank()) docs.add(d);
        return docs;
    }

    static List<String> check(JsonNode node) {
        List<String> problems = new ArrayList<>();
        // Read from the document: CustomResource computes apiVersion from annotations and ignores the input.
        String apiVersion = node.path("apiVersion").asText("");
        if (!API_VERSIONS.contains(apiVersion))
            problems.add("apiVersion \"" + apiVersion + "\" is not served by Strimzi for KafkaTopic " + API_VERSIONS);
        // Jackson stops at the first bad value: record it, drop that field and decode again, so that
        // every wrong type in the object is reported in one run.
        JsonNode work = node.deepCopy();
        KafkaTopic topic;
        while (true) {
            try {
                topic = MAPPER.readerFor(KafkaTopic.class).readValue(work);
                break;
            } catch (JsonMappingException e) {
                problems.add(pathOf(e.getPath()) + ": " + oneLine(e.getOriginalMessage()));
                if (problems.size() > 50 || !remove(work, e.getPath())) return problems;
            } catch (Exception e) {
                problems.add(oneLine(e.getMessage()));
                return problems;
            }
        }
        if (topic.getMetadata() == null || topic.getMetadata().getName() == null || topic.getMetadata().getName().isBlank())
            problems.add("metadata.name is not set");
        // Strimzi's v1 marks spec as required (@RequiredInVersions("v1+") on KafkaTopic.getSpec).
        if (topic.getSpec() == null) problems.add("spec is not set");
        unknownFields(topic, "", problems, Collections.newSetFromMap(new IdentityHashMap<>()));
        return problems;
    }

    // Walks the decoded object through the properties Jackson itself sees (so paths use the YAML
    // names) and reports what each model object's @JsonAnySetter map caught. Free-form maps such
    // as spec.config or metadata.labels are values, not model objects, and are not entered.
    static void unknownFields(Object obj, String path, List<String> problems, Set<Object> seen) {
        if (obj == null || !isModel(obj.getClass()) || !seen.add(obj)) return;
        try {
            Object extra = obj.getClass().getMethod("getAdditionalProperties").invoke(obj);
            if (extra instanceof Map<?, ?> map)
                for (Object key : map.keySet()) problems.add("unknown field " + join(path, String.valueOf(key)));
        } catch (NoSuchMethodException e) {
            // a model class without an any-setter: FAIL_ON_UNKNOWN_PROPERTIES already covers it
        } catch (ReflectiveOperationException e) {
            problems.add(join(path, "additionalProperties") + ": " + e);
        }
        BeanDescription desc = MAPPER.getSerializationConfig().introspect(MAPPER.constructType(obj.getClass()));
        for (BeanPropertyDefinition prop : desc.findProperties()) {
            AnnotatedMember accessor = prop.getAccessor();
            if (accessor == null) continue;
            accessor.fixAccess(true);
            Object value = accessor.getValue(obj);
            String p = join(path, prop.getName());
            if (value instanceof Collection<?> items) {
                int i = 0;
                for (Object item : items) unknownFields(item, p + "[" + i++ + "]", problems, seen);
            } else {
                unknownFields(value, p, problems, seen);
            }
        }
    }

    static boolean isModel(Class<?> c) {
        String n = c.getName();
        return n.startsWith("io.strimzi.api.") || n.startsWith("io.fabric8.kubernetes.api.model.");
    }

    // Removes the field or item a mapping error points at; false if the path cannot be followed.
    static boolean remove(JsonNode root, List<JsonMappingException.Reference> refs) {
        JsonNode parent = root;
        for (int i = 0; i < refs.size(); i++) {
            JsonMappingException.Reference r = refs.get(i);
            boolean last = i == refs.size() - 1;
            if (r.getFieldName() != null && parent instanceof ObjectNode o) {
                if (last) return o.remove(r.getFieldName()) != null;
                parent = o.get(r.getFieldName());
            } else if (r.getIndex() >= 0 && parent instanceof ArrayNode a) {
                if (last) return a.remove(r.getIndex()) != null;
                parent = a.get(r.getIndex());
            } else {
                return false;
            }
        }
        return false;
    }

    static String pathOf(List<JsonMappingException.Reference> refs) {
        String p = "";
        for (JsonMappingException.Reference r : refs)
            p = r.getFieldName() != null ? join(p, r.getFieldName()) : p + "[" + r.getIndex() + "]";
        return p.isEmpty() ? "(document)" : p;
    }

    static String join(String path, String name) {
        return path.isEmpty() ? name : path + "." + name;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\n\\s*", " ").trim();
    }
}
