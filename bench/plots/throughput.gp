set terminal pngcairo size 900,480 noenhanced
set output '/work/main/bench/plots/throughput.png'
set title 'deliveries or publishes per second, higher is better'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set datafile missing '-'
set key top left
set grid ytics
set yrange [0:*]
set logscale y
set yrange [1000:*]
plot '/work/main/bench/plots/throughput.dat' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), '' using 4 title columnheader(4)
