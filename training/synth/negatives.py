"""Hard-negative conversation scripts: benign talk that shares the positives' vocabulary.

A script is a list of beats; a beat is ``(speaker, alternatives)`` where speaker 0 opens the chat.
The generator keeps the order of beats, picks one alternative per beat and may drop optional
beats (marked with a leading ``?`` on the speaker), so each kind yields many distinct chats.
"""

from __future__ import annotations

Beat = tuple[str, list[str]]

NEGATIVE_KINDS: dict[str, list[Beat]] = {
    "friends_money": [
        ("0", ["{greet} you still owe me for {food}", "yo can you send me {amount} for {food}"]),
        ("1", ["oh right, how much was it", "my bad, forgot", "ugh ok one sec"]),
        ("0", ["{amount} each", "just venmo me {amount}", "send it on {pay} whenever"]),
        ("?1", ["cashapp ok?", "i'll zelle you tonight", "can i pay you friday"]),
        ("0", ["pay me back by friday or i'm telling everyone you're broke lol", "no rush bro"]),
        ("1", ["sent", "done, check your {pay}", "lmao ok sending now"]),
        ("?0", ["got it thx", "ty", "appreciate it"]),
    ],
    "parent_child": [
        ("0", ["are you home alone right now?", "where are you? are your friends with you",
               "did you get home ok"]),
        ("1", ["yeah just got home", "at {friendname}'s house", "yes mom"]),
        ("0", ["send me a pic of your homework so i know it's done", "send me a photo of the fridge list",
               "take a picture of the permission slip and send it"]),
        ("1", ["ok sending", "here", "fine"]),
        ("?0", ["don't tell your brother about his birthday present, it's a secret",
                "delete that app, it's not safe", "don't talk to strangers online ok"]),
        ("0", ["love you, dad will be home by 6", "dinner at 7", "lock the door please"]),
        ("?1", ["ok love you", "k", "can i get {game} skins"]),
    ],
    "teen_crush": [
        ("0", ["{greet} you looked really {compliment} today", "ngl you're kinda {compliment}"]),
        ("1", ["omg stop", "haha you too", "you're sweet"]),
        ("0", ["wanna hang out after school", "wanna go to the mall saturday", "movie this weekend?"]),
        ("1", ["yes!!", "sure, with {friendname} too?", "i have to ask my mom"]),
        ("?0", ["what's your {app}", "add me on {app}"]),
        ("?1", ["sent you a selfie lol", "it's {friendname}{age}"]),
        ("0", ["can't wait", "see you then", "you're the best"]),
    ],
    "gaming_trash_talk": [
        ("0", ["you're dead next round", "i'm going to destroy you in {game}", "get ready to lose"]),
        ("1", ["lmao you wish", "1v1 me then", "cope"]),
        ("0", ["i'll expose your k/d to the whole server", "i'll post the clip of you choking",
               "everyone's gonna see that replay"]),
        ("?1", ["do it, nobody cares", "send it to the group lol", "ratio"]),
        ("0", ["buy me a steam card if you lose", "loser pays for the battle pass", "bet {amount} vbucks"]),
        ("1", ["deal", "gg", "you're on"]),
    ],
    "marketplace": [
        ("0", ["is the {item} still available", "{greet} interested in your {item}"]),
        ("1", ["yes it is", "still have it", "yep, barely used"]),
        ("0", ["can you send more pics of it", "send a photo of the back", "any pics of the scratches"]),
        ("1", ["sure sending now", "here are a few", "i'll send a video"]),
        ("0", ["would you take {amount}", "{amount} firm?", "can i pay with paypal"]),
        ("1", ["{amount} is fine", "need payment by tomorrow or i sell to someone else",
               "cash or {pay} only"]),
        ("?0", ["deal, i'll pick it up tonight", "sending the money now"]),
    ],
    "coach_team": [
        ("0", ["hi team, we're moving chat to the {app} group", "join the team {app} group, link below"]),
        ("1", ["ok coach", "joined", "will do"]),
        ("0", ["send me a photo for the roster by friday", "everyone send a headshot for the team page"]),
        ("1", ["here's mine", "sending later", "does a selfie work"]),
        ("0", ["tournament fee is {amount}, pay by friday", "don't forget {amount} for the bus"]),
        ("?1", ["my parents will pay tonight", "can i bring cash"]),
        ("0", ["great practice today, proud of you all", "practice at 5, don't be late"]),
    ],
    "sextortion_awareness": [
        ("0", ["did you see the news about sextortion scams", "our school had a talk about sextortion"]),
        ("1", ["yeah it's scary", "no what happened"]),
        ("0", ["they pretend to be a teen and ask for a private pic, then threaten to send it to your family",
               "scammers ask for pics then demand gift cards"]),
        ("1", ["that's awful", "wow people are sick"]),
        ("0", ["if someone threatens you, never pay, tell an adult and report it",
               "you can use take it down to get images removed"]),
        ("?1", ["good to know", "i'll tell my little brother", "thanks for telling me"]),
    ],
    "adult_dating": [
        ("0", ["{greet}, saw your profile, you seem {compliment}", "nice match! how's your week"]),
        ("1", ["thanks! i'm 29, you?", "good, busy with work. i'm 34"]),
        ("0", ["31, work in accounting", "i'm 33, nurse"]),
        ("?1", ["want to move to {app}", "let's text on {app}"]),
        ("0", ["send a selfie?", "any more pics of you hiking"]),
        ("1", ["sure, here", "here's one from last weekend"]),
        ("0", ["drinks friday?", "want to grab dinner this weekend"]),
    ],
    "account_recovery_scam": [
        ("0", ["your account will be deleted in 24 hours", "security team: unusual login detected"]),
        ("1", ["what?", "is this real"]),
        ("0", ["send the 6 digit code we texted you", "verify now or lose your account"]),
        ("?0", ["pay a {amount} verification fee with {pay}", "buy {pay} to unlock your account"]),
        ("1", ["this is a scam, reported", "nice try", "blocked"]),
    ],
    "sibling_teasing": [
        ("0", ["i'm showing mom the video of you dancing lol", "i'm telling everyone you cried at the movie"]),
        ("1", ["don't you dare", "i'll tell dad you broke the vase"]),
        ("0", ["pay me $5 and i won't", "give me your fries and i delete it"]),
        ("1", ["fine", "you're so annoying", "whatever"]),
        ("?0", ["deleted it, relax", "jk love you"]),
    ],
    "tutor_session": [
        ("0", ["are your parents home for the session today", "is your mom around to confirm the time"]),
        ("1", ["yes she's here", "dad is home"]),
        ("0", ["send a photo of the worksheet", "take a pic of question 4"]),
        ("1", ["sending", "here it is"]),
        ("0", ["the fee is {amount} for the month, your parents can pay by {pay}",
               "see you thursday at 4"]),
    ],
    "work_photos": [
        ("0", ["send a photo for your staff id badge", "hr needs a headshot by tomorrow"]),
        ("1", ["sure, plain background?", "ok will do"]),
        ("0", ["we use {app} for the shift schedule, please join", "delete the old group, we moved"]),
        ("1", ["done", "joined"]),
        ("?0", ["payroll goes out friday via direct deposit", "your first paycheck is {amount}"]),
    ],
    "old_friends": [
        ("0", ["{greet} long time no see", "omg is that you {friendname}"]),
        ("1", ["haha yes! how are you", "no way, how have you been"]),
        ("0", ["remember when we used to play {game} all night", "i still have our old pics lol"]),
        ("1", ["send them!!", "don't post those haha"]),
        ("0", ["i'll send them to the group chat", "posting them for your birthday"]),
        ("1", ["noo lol", "fine but not the ugly ones"]),
    ],
}

# Folds for hold-out by negative kind: a kind's position modulo N_FOLDS.
