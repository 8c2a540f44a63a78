#!/bin/sh
# Second step of long-sleep.pkr.hcl: sleeps 300 s so that a test can cancel the build.
echo "sleeping 300 s, cancel me"
sleep 300
echo "not cancelled?"
