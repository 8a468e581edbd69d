package bot_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"conclave/clients/bot"
)

// Many bots in one process, as a load tester runs them: one shared pion API
// kept on loopback, one context ending them all, and their reports merged.
func Example_manyBots() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := bot.NewAPI(bot.WithSettingEngine(bot.LoopbackSettings()))
	if err != nil {
		log.Fatal(err)
	}
	link := "http://127.0.0.1:8080/m/AAECAwQFBgcICQoLDA0ODw#EBESExQVFhcYGRobHB0eHw"
	var bots []*bot.Bot
	for i := range 10 {
		b, err := bot.Join(ctx, link, bot.Config{Name: fmt.Sprintf("bot%d", i), API: api})
		if err != nil {
			log.Fatal(err)
		}
		bots = append(bots, b)
	}
	<-ctx.Done() // every bot leaves when ctx ends
	var total bot.Report
	for _, b := range bots {
		<-b.Done()
		r := b.Report()
		total.FramesDecrypted += r.FramesDecrypted
		total.DecryptFailures += r.DecryptFailures
		total.MergeLatency(&r)
	}
	fmt.Println(total.FramesDecrypted, total.DecryptFailures, total.Latency(0.99))
}
