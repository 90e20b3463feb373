# Sourced by pyspark's bin/spark-class for every JVM it starts; SPARK_DAEMON_JAVA_OPTS reaches
# the standalone master and worker (see spark-defaults.conf).
SPARK_DAEMON_JAVA_OPTS="-XX:TieredStopAtLevel=1"
